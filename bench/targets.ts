/**
 * A benchmark's targets: each printed figure that has one is checked, and a run that misses any
 * ends with them listed on stderr and exit code 1, so a script or CI can tell.
 */
export function targets() {
  const missed: string[] = [];
  return {
    /** Records `figure` as missed unless `met`; returns `met`. */
    check(met: boolean, figure: string): boolean {
      if (!met) missed.push(figure);
      return met;
    },
    /** Call once, after the last figure is printed. */
    report(): void {
      if (!missed.length) {
        console.log('\nevery target met');
        return;
      }
      console.error(
        `\nmissed ${missed.length === 1 ? 'a target' : `${missed.length} targets`}:\n${missed.map((m) => `  - ${m}`).join('\n')}`,
      );
      process.exitCode = 1;
    },
  };
}
