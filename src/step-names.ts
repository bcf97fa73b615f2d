/** The steps of a run, in order: `retry.<step>` in the config and `mlops rekick --from` take these names. */
export const stepNames = ['extract', 'train', 'evaluate', 'gate', 'record', 'build', 'push', 'deploy'] as const;
export type StepName = (typeof stepNames)[number];
