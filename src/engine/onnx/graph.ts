/**
 * A small ONNX graph builder over onnx-proto's protobuf classes: nodes with unique names,
 * float32 / int64 initialisers (deduplicated for small constants), typed attributes, and
 * serialisation of the whole ModelProto.
 */
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

/** The opset the compiler targets (ReduceMean axes as attribute, Split/Unsqueeze/ReduceSum axes as inputs). */
export const OPSET = 17;
/** IR version 8 is what opset 17 shipped with; onnxruntime 1.30 reads it. */
export const IR_VERSION = 8;

/** A float attribute (plain numbers are ints). */
export interface FloatAttr {
  float: number;
}
export type Attr = number | number[] | string | FloatAttr;
export const f = (value: number): FloatAttr => ({ float: value });

export type ElemType = 'float32' | 'int64';

export interface ValueInfo {
  name: string;
  type: ElemType;
  /** A number for a fixed dimension, a string for a symbolic one; omitted when the rank is not fixed. */
  dims?: (number | string)[];
}

const DATA_TYPE: Record<ElemType, number> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  int64: onnx.TensorProto.DataType.INT64,
};

export class GraphBuilder {
  private readonly nodes: onnxProto.onnx.INodeProto[] = [];
  private readonly initializers: onnxProto.onnx.ITensorProto[] = [];
  private readonly used = new Set<string>();
  private readonly constCache = new Map<string, string>();
  private counter = 0;

  /** A fresh value name starting with `prefix`. */
  fresh(prefix: string): string {
    const base = prefix.replace(/[^A-Za-z0-9_./:-]/g, '_');
    let name = base;
    while (this.used.has(name)) name = `${base}__${++this.counter}`;
    this.used.add(name);
    return name;
  }

  /** Reserves an exact name (graph inputs and outputs). */
  reserve(name: string): string {
    if (this.used.has(name)) throw new Error(`ONNX value name ${name} is already used`);
    this.used.add(name);
    return name;
  }

  get nodeCount(): number {
    return this.nodes.length;
  }

  /** Adds a node; returns its output names (fresh unless given). */
  node(opType: string, inputs: string[], attrs: Record<string, Attr> = {}, outputs: number | string[] = 1, hint = opType): string[] {
    const outNames = typeof outputs === 'number' ? Array.from({ length: outputs }, (_, i) => this.fresh(`${hint}${i ? `_${i}` : ''}`)) : outputs;
    this.nodes.push({
      opType,
      input: inputs,
      output: outNames,
      name: this.fresh(`n_${hint}`),
      attribute: Object.entries(attrs).map(([name, value]) => attribute(name, value)),
    });
    return outNames;
  }

  /** Single-output node. */
  op(opType: string, inputs: string[], attrs: Record<string, Attr> = {}, hint = opType): string {
    return this.node(opType, inputs, attrs, 1, hint)[0]!;
  }

  /** A float32 initialiser. */
  floats(hint: string, data: Float32Array | number[], dims: number[]): string {
    const values = data instanceof Float32Array ? data : Float32Array.from(data);
    const size = dims.reduce((a, b) => a * b, 1);
    if (values.length !== size) throw new Error(`initializer ${hint}: ${values.length} values for dims [${dims.join(', ')}]`);
    const small = values.length <= 16;
    const key = small ? `f|${dims.join(',')}|${Array.from(values).join(',')}` : '';
    if (small && this.constCache.has(key)) return this.constCache.get(key)!;
    const name = this.fresh(hint);
    this.initializers.push({
      name,
      dataType: DATA_TYPE.float32,
      dims,
      rawData: new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength)),
    });
    if (small) this.constCache.set(key, name);
    return name;
  }

  /** An int64 initialiser (a 1-D vector unless dims say otherwise; [] for a scalar). */
  ints(values: number[], dims: number[] = [values.length], hint = 'i64'): string {
    const key = `i|${dims.join(',')}|${values.join(',')}`;
    const cached = this.constCache.get(key);
    if (cached) return cached;
    const name = this.fresh(hint);
    const data = BigInt64Array.from(values.map((v) => BigInt(v)));
    this.initializers.push({ name, dataType: DATA_TYPE.int64, dims, rawData: new Uint8Array(data.buffer) });
    this.constCache.set(key, name);
    return name;
  }

  /** A float32 scalar constant (shape []). */
  scalar(value: number): string {
    return this.floats('c', [value], []);
  }

  /** Serialises the graph with its inputs and outputs into ModelProto bytes. */
  build(graphName: string, inputs: ValueInfo[], outputs: ValueInfo[], docString = ''): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion: IR_VERSION,
      producerName: 'unet-dream',
      producerVersion: '0.1.0',
      docString,
      opsetImport: [onnx.OperatorSetIdProto.create({ domain: '', version: OPSET })],
      graph: onnx.GraphProto.create({
        name: graphName,
        node: this.nodes,
        initializer: this.initializers,
        input: inputs.map(valueInfo),
        output: outputs.map(valueInfo),
      }),
    });
    return onnx.ModelProto.encode(model).finish();
  }
}

function attribute(name: string, value: Attr): onnxProto.onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof value === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(value) };
  if (Array.isArray(value)) return { name, type: T.INTS, ints: value };
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) throw new Error(`attribute ${name}: ${value} is not an integer (wrap floats with f())`);
    return { name, type: T.INT, i: value };
  }
  return { name, type: T.FLOAT, f: value.float };
}

function valueInfo(info: ValueInfo): onnxProto.onnx.IValueInfoProto {
  return {
    name: info.name,
    type: {
      tensorType: {
        elemType: DATA_TYPE[info.type],
        ...(info.dims ? { shape: { dim: info.dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } : {}),
      },
    },
  };
}
