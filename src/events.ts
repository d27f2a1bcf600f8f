/** Library code never prints: it reports through these events, and the CLI decides what to show. */
export type PipelineEvent =
  | { type: 'info'; message: string }
  | { type: 'warn'; message: string }
  | { type: 'progress'; done: number; total: number; label: string };

export type EventSink = (event: PipelineEvent) => void;
