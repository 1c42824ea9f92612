/**
 * Offline validation of Kubernetes objects against the API schemas embedded in npm `kubernetes-models`
 * (no cluster): the model class of each apiVersion/kind validates types, enums and required fields, and a proxy
 * records which fields the validator reads, so a field the schema does not know (a typo such as
 * `readinesProbe`, which the API server would reject) is reported as well.
 */
import type { K8sObject } from './kustomize.js';

type Model = { validate(): void };
type ModelClass = new (data: unknown) => Model;

const classes = new Map<string, ModelClass>();

async function modelClass(apiVersion: string, kind: string): Promise<ModelClass> {
  const key = `${apiVersion}/${kind}`;
  const hit = classes.get(key);
  if (hit) return hit;
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  const spec = `kubernetes-models/${group ? `${group}/` : ''}${version}/${kind}`;
  let mod: Record<string, unknown>;
  try {
    mod = (await import(spec)) as Record<string, unknown>;
  } catch {
    throw new Error(`unknown apiVersion/kind ${key} (no ${spec})`);
  }
  const cls = mod[kind] as ModelClass | undefined;
  if (!cls) throw new Error(`${spec} exports no ${kind}`);
  classes.set(key, cls);
  return cls;
}

/** Wraps `obj` so that every property read is recorded in `seen` as a JSON pointer. */
function track<T>(obj: T, path: string, seen: Set<string>): T {
  if (obj === null || typeof obj !== 'object') return obj;
  return new Proxy(obj as object, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver) as unknown;
      if (typeof key !== 'string') return value;
      seen.add(`${path}/${key}`);
      return track(value, `${path}/${key}`, seen);
    },
  }) as T;
}

/** Paths present in `obj` that the validator never read (only the top-most of an unknown subtree). */
function unread(obj: unknown, path: string, seen: Set<string>, out: string[]): void {
  if (obj === null || typeof obj !== 'object') return;
  for (const [k, v] of Object.entries(obj)) {
    const p = `${path}/${k}`;
    if (!seen.has(p)) out.push(p);
    else unread(v, p, seen, out);
  }
}

/** Schema errors of one object (empty when valid). */
export async function schemaErrors(obj: K8sObject): Promise<string[]> {
  const where = `${obj.kind}/${obj.metadata?.name}`;
  let cls: ModelClass;
  try {
    cls = await modelClass(obj.apiVersion, obj.kind);
  } catch (e) {
    return [`${where}: ${(e as Error).message}`];
  }
  const model = new cls(obj);
  const seen = new Set<string>();
  const errors: string[] = [];
  try {
    model.validate.call(track(model, '', seen));
  } catch (e) {
    errors.push(`${where}: ${(e as Error).message}`);
  }
  const unknown: string[] = [];
  unread(JSON.parse(JSON.stringify(model)) as unknown, '', seen, unknown);
  for (const p of unknown) errors.push(`${where}: unknown field ${p}`);
  return errors;
}
