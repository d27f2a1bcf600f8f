/**
 * Adam on Float32Arrays, step for step the arithmetic of tfjs's AdamOptimizer (the same moment
 * updates, bias correction by running products of beta, epsilon 1e-7 added to sqrt(v_hat)), so a
 * training run can switch between the tfjs and the ONNX trainer through a checkpoint. It lives here,
 * on the ascent floor, because the lucid recipe ascends image parameters with it too; train/ imports it.
 */
export interface AdamSettings {
  lr: number;
  beta1?: number;
  beta2?: number;
  epsilon?: number;
}

export class Adam {
  /** Settable between steps (learning-rate schedules). */
  lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  iterations = 0;
  /** beta1^(t+1) and beta2^(t+1) as float32 running products (tfjs keeps them as float32 scalars). */
  private accBeta1: number;
  private accBeta2: number;
  readonly m: Float32Array[];
  readonly v: Float32Array[];

  constructor(sizes: number[], settings: AdamSettings) {
    this.lr = settings.lr;
    this.beta1 = settings.beta1 ?? 0.9;
    this.beta2 = settings.beta2 ?? 0.999;
    this.epsilon = settings.epsilon ?? 1e-7;
    this.accBeta1 = Math.fround(this.beta1);
    this.accBeta2 = Math.fround(this.beta2);
    this.m = sizes.map((n) => new Float32Array(n));
    this.v = sizes.map((n) => new Float32Array(n));
  }

  /** Updates `params[i]` in place from `grads[i]`. */
  step(params: Float32Array[], grads: Float32Array[]): void {
    this.update(params, grads, 1);
  }

  /** The same step along minus the gradients (ascent), without a negated copy of them. */
  stepAlongNegated(params: Float32Array[], grads: Float32Array[]): void {
    this.update(params, grads, -1);
  }

  private update(params: Float32Array[], grads: Float32Array[], sign: 1 | -1): void {
    const { beta1: b1, beta2: b2, epsilon: eps, lr } = this;
    const c1 = Math.fround(1 - this.accBeta1);
    const c2 = Math.fround(1 - this.accBeta2);
    for (let i = 0; i < params.length; i++) {
      const p = params[i]!;
      const g = grads[i]!;
      const m = this.m[i]!;
      const v = this.v[i]!;
      if (g.length !== p.length) throw new Error(`Adam: gradient ${i} has ${g.length} values for ${p.length} weights`);
      for (let k = 0; k < p.length; k++) {
        // Negating a float is exact, so the ascent's arithmetic is the descent's on -g.
        const gk = sign * g[k]!;
        const mk = b1 * m[k]! + (1 - b1) * gk;
        const vk = b2 * v[k]! + (1 - b2) * gk * gk;
        m[k] = mk;
        v[k] = vk;
        p[k] = p[k]! - (lr * (mk / c1)) / (Math.sqrt(vk / c2) + eps);
      }
    }
    this.accBeta1 = Math.fround(this.accBeta1 * Math.fround(b1));
    this.accBeta2 = Math.fround(this.accBeta2 * Math.fround(b2));
    this.iterations++;
  }

  /** Restores moments and the iteration count; the beta products are rebuilt as an unbroken run would have them. */
  restore(iterations: number, m: Float32Array[], v: Float32Array[]): void {
    m.forEach((a, i) => this.m[i]!.set(a));
    v.forEach((a, i) => this.v[i]!.set(a));
    this.iterations = iterations;
    this.accBeta1 = Math.fround(this.beta1);
    this.accBeta2 = Math.fround(this.beta2);
    for (let i = 0; i < iterations; i++) {
      this.accBeta1 = Math.fround(this.accBeta1 * Math.fround(this.beta1));
      this.accBeta2 = Math.fround(this.accBeta2 * Math.fround(this.beta2));
    }
  }
}

/**
 * Adam for image parameters, ascending: the same Adam fed the negated gradient, so the recipe climbs
 * the objective. Lucid's render loop uses Adam at lr 0.05.
 */
export class AdamAscent {
  private readonly adam: Adam;

  constructor(size: number, lr: number) {
    this.adam = new Adam([size], { lr });
  }

  /** params += Adam step along `gradient` (the gradient of what is maximised). */
  step(params: Float32Array, gradient: Float32Array): void {
    this.adam.stepAlongNegated([params], [gradient]);
  }
}
