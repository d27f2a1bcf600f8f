import { loadModel } from './src/model/load.js';
import { selectBackend } from './src/engine/backend.js';
import { dissect, formatDissectTable } from './src/dissect/dissect.js';
import { heldOutPhantoms } from './src/dissect/data.js';
await selectBackend('auto');
const m = await loadModel('models/unet-phantom');
const pairs = heldOutPhantoms(16, 128, 12345, { acceleration: 4, center: 0.08, pattern: 'random', axis: 'x' });
const t = performance.now();
const r = await dissect(m.model, pairs, {}, (e) => e.type === 'progress' && console.error(e.label, ((performance.now()-t)/1000).toFixed(1)));
console.log(r.maskFractions);
console.log(formatDissectTable(r).join('\n'));
for (const l of r.layers) { const s=[...l.units].sort((a,b)=>b.aliasingIoU-a.aliasingIoU); console.log(l.layer, s.slice(0,3).map(u=>`${u.filter}:${u.aliasingIoU.toFixed(3)}/${u.edgeIoU.toFixed(3)}`).join(' ')); }
