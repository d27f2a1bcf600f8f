/**
 * What the real-slice modes (activations, attribute, examples) share: their library code reports
 * per-slice and per-layer events; the run context's sink takes progress events.
 */
import type { RealSliceEvent } from '../activations/run-context.js';
import type { EventSink } from '../events.js';

export function progressTo(emit: EventSink): (e: RealSliceEvent) => void {
  return (e) => {
    if (e.type === 'slice') emit({ type: 'progress', done: e.index, total: e.total, label: e.input });
    else if (e.type === 'layer') emit({ type: 'progress', done: e.index, total: e.total, label: `layer ${e.layer}` });
    // 'engine': the run context has announced the engine and any fallback already.
  };
}

export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}
