/** An HTTP answer from the serving host. */
export interface HostResponse {
  status: number;
  body: string;
}

/**
 * An HTTP request to a URL on the serving host. Servers and proxy listen on its 127.0.0.1, which is
 * this machine for processes but not for a remote DOCKER_HOST: there the request goes through the engine.
 */
export type HostRequest = (
  url: string,
  init?: { method?: string; headers?: Record<string, string>; body?: string },
) => Promise<HostResponse>;

/** Whether a URL on the serving host answers 200; not answering at all is a no. */
export function answersOk(request: HostRequest, url: string): Promise<boolean> {
  return request(url).then(
    (res) => res.status === 200,
    () => false,
  );
}
