/** What the alert sinks (the webhook, GitHub issues) are told: a run's failure, or another alert with advice. */
export interface Alert {
  runId: string;
  step: string;
  errorClass: string;
  message: string;
  /** How to resume the run: a command, or on a runner the workflow's dispatch inputs (for a monitoring breach: how to check again). */
  rekick: string;
  /** The title; by default "<workflow> failed at <step>". */
  title?: string;
  /** What to do, instead of how to rerun a failed step: for alerts that are not a run's failure, such as a monitoring breach. */
  advice?: string[];
}
