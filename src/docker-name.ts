/**
 * A name Docker accepts for an image repository, a container or a volume, from the project's name
 * and its parts: lower case, and any run of other characters one '-'. One rule for all three, so
 * that a project named `Iris_Demo` finds its own containers under the name its images have.
 */
export const dockerName = (...parts: (string | number)[]): string =>
  parts
    .join('-')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-');
