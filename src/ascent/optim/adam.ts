/**
 * Adam for image parameters, ascending: the trainer's Adam (train/adam.ts, tfjs's arithmetic) fed the
 * negated gradient, so the recipe climbs the objective. Lucid's render loop uses Adam at lr 0.05.
 */
import { Adam } from '../../train/adam.js';

export class AdamAscent {
  private readonly adam: Adam;

  constructor(size: number, lr: number) {
    this.adam = new Adam([size], { lr });
  }

  /** params += Adam step along `gradient` (the gradient of what is maximised). */
  step(params: Float32Array, gradient: Float32Array): void {
    this.adam.step([params], [Float32Array.from(gradient, (g) => -g)]);
  }
}
