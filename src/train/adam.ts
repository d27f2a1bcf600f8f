/** The trainer's Adam: it lives in ascent/optim/adam.ts (the lucid recipe uses it too, and ascent sits below train). */
export { Adam, type AdamSettings } from '../ascent/optim/adam.js';
