/** Library code never prints: it reports through these events, and the CLI decides what to show. */
export type PipelineEvent =
  | { type: 'info'; message: string }
  | { type: 'warn'; message: string }
  | { type: 'progress'; done: number; total: number; label: string }
  /** A results table for stdout (the CLI prints it unless --json). */
  | { type: 'table'; title: string; text: string };

export type EventSink = (event: PipelineEvent) => void;
