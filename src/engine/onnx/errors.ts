/** Errors of the ONNX engine, typed so callers can fall back to tfjs with one line naming the cause. */
import { UsageError } from '../../errors.js';

/**
 * A layer on the path from the input to the objective's layers that the ONNX compiler cannot express
 * (its class, or one of its settings). A UsageError (exit code 2) when backend onnx was asked for
 * explicitly; backend auto catches it and falls back to tfjs.
 */
export class OnnxUnsupportedError extends UsageError {
  constructor(
    /** The layer's name in the model, e.g. `gru_1`. */
    readonly layerName: string,
    /** The layer's class, e.g. `GRU`. */
    readonly className: string,
    /** What about it is unsupported, when it is a setting rather than the class. */
    readonly detail?: string,
  ) {
    super(
      `the ONNX engine cannot compile layer "${layerName}" (${className})` +
        (detail ? `: ${detail}` : ': this layer type is not supported') +
        '; the tfjs backends run it (backend auto falls back to them)',
    );
    this.name = 'OnnxUnsupportedError';
  }
}

/** onnxruntime-node, or the execution provider asked for, cannot be used on this machine. */
export class OnnxUnavailableError extends UsageError {
  constructor(message: string) {
    super(message);
    this.name = 'OnnxUnavailableError';
  }
}
