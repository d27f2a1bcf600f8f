/** The ONNX Runtime engine: graph compiler, session cache, typed errors. */
export { OnnxEngine, createOnnxEngine, cudaProviderInstalled, ONNXRUNTIME_CUDA_INSTALL } from './onnx-engine.js';
export type { OnnxDevice, OnnxEngineOptions, OnnxEngineStats, OnnxCompileRecord } from './onnx-engine.js';
export { compileGradientGraph, findUnsupportedLayer, SUPPORTED_LAYERS } from './compile.js';
export type { CompileOptions, CompiledGraph } from './compile.js';
export { OnnxUnsupportedError, OnnxUnavailableError } from './errors.js';
