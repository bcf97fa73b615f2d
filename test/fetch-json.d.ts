// In tests, response bodies are asserted on directly: let `res.json()` be untyped there.
declare global {
  interface Response {
    json(): Promise<any>;
  }
}
export {};
