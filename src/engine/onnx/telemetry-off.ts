/**
 * ONNX Runtime's Linux and macOS builds carry Microsoft's telemetry SDK. Left on, every process that
 * starts the runtime writes a device id and an event database under ~/.cache/Microsoft and a
 * mat-debug-<pid>.log (and .ses) in the temp folder (measured with onnxruntime-node 1.30.0). This tool
 * handles patient scans: telemetry is off unless the user set ORT_DISABLE_TELEMETRY themselves.
 *
 * The runtime reads the variable when it starts, so this module is imported before 'onnxruntime-node'
 * in every module that imports it (ES modules evaluate their imports in order).
 */
process.env.ORT_DISABLE_TELEMETRY ??= '1';

export {};
