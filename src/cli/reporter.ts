/**
 * What the user sees while a command runs: a progress bar on a terminal, plain log lines when stderr
 * is not a TTY or CI is set; info lines only with --verbose. Everything goes to stderr so stdout
 * stays clean for --json.
 */
import cliProgress from 'cli-progress';
import type { PipelineEvent } from '../events.js';

export interface Reporter {
  onEvent(event: PipelineEvent): void;
  stop(): void;
}

export function createReporter(options: { verbose: boolean; json: boolean }): Reporter {
  const interactive = process.stderr.isTTY === true && !process.env.CI;
  let bar: cliProgress.SingleBar | undefined;
  let lastPlain = 0;
  let firstDone: number | undefined;
  const started = Date.now();
  const line = (text: string) => {
    if (bar) bar.stop();
    bar = undefined;
    process.stderr.write(`${text}\n`);
  };
  return {
    onEvent(event) {
      if (event.type === 'info') {
        if (options.verbose) line(event.message);
      } else if (event.type === 'warn') {
        line(`warning: ${event.message}`);
      } else if (event.type === 'table') {
        if (!options.json) {
          if (bar) bar.stop();
          bar = undefined;
          process.stdout.write(`${event.title}\n${event.text}`);
        }
      } else if (interactive) {
        if (!bar) {
          bar = new cliProgress.SingleBar(
            { format: '{bar} {value}/{total} | {label} | eta {eta_formatted}', hideCursor: true, stream: process.stderr, clearOnComplete: true },
            cliProgress.Presets.shades_classic,
          );
          bar.start(event.total, event.done, { label: event.label });
        }
        bar.setTotal(event.total);
        bar.update(event.done, { label: event.label });
      } else {
        // Plain lines, at most every 10 s, plus the last one.
        const now = Date.now();
        if (now - lastPlain >= 10_000 || event.done === event.total) {
          lastPlain = now;
          const elapsed = (now - started) / 1000;
          // Work done before this process (a resumed run) does not count towards the rate.
          firstDone ??= event.done > 0 ? event.done - 1 : 0;
          const doneHere = event.done - firstDone;
          const eta = doneHere > 0 ? ((event.total - event.done) * elapsed) / doneHere : NaN;
          process.stderr.write(`[${event.done}/${event.total}] ${event.label} (${elapsed.toFixed(0)} s${Number.isFinite(eta) ? `, eta ${eta.toFixed(0)} s` : ''})\n`);
        }
      }
    },
    stop() {
      bar?.stop();
      bar = undefined;
    },
  };
}
