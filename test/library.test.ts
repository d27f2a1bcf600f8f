/** The README's library example, run as written (with a smaller size and fewer steps). */
import { describe, expect, it } from 'vitest';
import { createEngine, loadModel, parseFilterSelection, parseInit, prepareInit, renderSheet, renderTile, minMaxWindow, visualizeFilters } from '../src/index.js';

describe('library use', () => {
  it('visualises filters and renders a sheet without the CLI', async () => {
    const { model } = await loadModel('builtin');
    const { engine } = await createEngine(model, 'auto');
    const results = await visualizeFilters(engine, model, {
      layers: ['dconv128'],
      filters: parseFilterSelection('0-3'),
      init: await prepareInit(parseInit('uniform:0:2')),
      size: 32, // the README uses 128
      steps: 5,
      step: 1,
      normalize: 'rms',
      seed: 0,
      batch: 4,
    });
    engine.dispose();
    expect(results.map((r) => r.filter)).toEqual([0, 1, 2, 3]);
    // Live filters rise; a dead unit (no gradient at all from this start) is flagged, not faked.
    expect(results.filter((r) => !r.dead).length).toBeGreaterThanOrEqual(2);
    for (const r of results) {
      if (r.dead) expect(r.activation.end).toBe(r.activation.start);
      else expect(r.activation.end).toBeGreaterThan(r.activation.start);
    }
    const tiles = results.map((r) => ({ image: renderTile(r.image, 32, 32, 1, minMaxWindow(r.image), 'viridis'), label: `#${r.filter}` }));
    const { png } = await renderSheet(tiles, { title: 'dconv128', columns: 4 });
    expect(png.subarray(1, 4).toString()).toBe('PNG');
  });
});
