/** dcmjs, the DICOM dataset parser and writer (CommonJS build, loaded on first use), kept quiet: library code never prints. */
import { createRequire } from 'node:module';

export type Dataset = Record<string, unknown>;
export interface DicomDictInstance {
  meta: Dataset;
  dict: Dataset;
  write(options?: object): ArrayBuffer;
}
interface Dcmjs {
  data: {
    DicomMessage: { readFile(buffer: ArrayBuffer, options?: object): DicomDictInstance };
    DicomMetaDictionary: {
      naturalizeDataset(dict: Dataset): Dataset;
      denaturalizeDataset(dataset: Dataset): Dataset;
      sopClassNamesByUID: Record<string, string>;
    };
    DicomDict: new (meta: Dataset) => DicomDictInstance;
  };
  log: Logger & { getLoggers?(): Record<string, Logger> };
}
interface Logger {
  getLevel(): number;
  setLevel(level: number | string, persist?: boolean): void;
}

const require = createRequire(import.meta.url);
let dcmjsModule: Dcmjs | undefined;
export function dcmjs(): Dcmjs {
  dcmjsModule ??= require('dcmjs') as Dcmjs;
  return dcmjsModule;
}

export function quietly<T>(fn: () => T): T {
  const { log } = dcmjs();
  // The root logger and its named children ('validation.dcmjs', ...) keep separate levels.
  const loggers = [log, ...Object.values(log.getLoggers?.() ?? {})];
  const levels = loggers.map((l) => l.getLevel());
  for (const l of loggers) l.setLevel('silent', false);
  try {
    return fn();
  } finally {
    loggers.forEach((l, i) => l.setLevel(levels[i]!, false));
  }
}
