/**
 * A minimal kustomize, enough for deploy/k8s (CI has no kubectl): `resources` (files and directories),
 * `components`, `namespace`, `configMapGenerator` / `secretGenerator` (`envs`, `literals`, `files`; behavior
 * create/merge/replace), `generatorOptions.disableNameSuffixHash` (required: name hashes are not implemented),
 * `patches` (strategic-merge files or inline JSON 6902 with a target) and `images`. Any other field is refused, so
 * a manifest never silently means more than this renders. Where `kubectl` exists, test/deploy compares this
 * renderer's output with `kubectl kustomize`.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';

export type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [k: string]: unknown;
};

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Dict = { [k: string]: Json };

const KNOWN = new Set(['apiVersion', 'kind', 'resources', 'components', 'namespace', 'configMapGenerator', 'secretGenerator', 'generatorOptions', 'patches', 'images']);
/** Kinds that are not namespaced (among those we could meet). */
const CLUSTER_SCOPED = new Set(['Namespace', 'PersistentVolume', 'StorageClass', 'ClusterRole', 'ClusterRoleBinding', 'CustomResourceDefinition', 'PriorityClass']);
/** Strategic-merge keys of the lists we patch (everything else is replaced). */
const MERGE_KEYS: Record<string, string> = {
  containers: 'name',
  initContainers: 'name',
  env: 'name',
  volumes: 'name',
  volumeMounts: 'mountPath',
  ports: 'containerPort',
  volumeClaimTemplates: 'metadata.name',
};

/** Parses every YAML document of a file into plain objects (empty documents dropped). */
export function parseYamlFile(path: string): Dict[] {
  const docs = parseAllDocuments(readFileSync(path, 'utf8'));
  const out: Dict[] = [];
  for (const d of docs) {
    if (d.errors.length) throw new Error(`${path}: ${d.errors.map((e) => e.message).join('; ')}`);
    const v = d.toJS() as Json;
    if (v !== null) out.push(v as Dict);
  }
  return out;
}

/** Renders the kustomization in `dir` (like `kubectl kustomize dir`). */
export function kustomize(dir: string): K8sObject[] {
  return build(resolve(dir), 'Kustomization');
}

function build(dir: string, expectKind: 'Kustomization' | 'Component', base: K8sObject[] = []): K8sObject[] {
  const file = ['kustomization.yaml', 'kustomization.yml', 'Kustomization'].map((f) => join(dir, f)).find((f) => existsSync(f));
  if (!file) throw new Error(`${dir}: no kustomization.yaml`);
  const [k] = parseYamlFile(file);
  for (const key of Object.keys(k)) if (!KNOWN.has(key)) throw new Error(`${file}: field "${key}" is not supported by this renderer`);
  if ((k.kind ?? 'Kustomization') !== expectKind) throw new Error(`${file}: expected kind ${expectKind}, found ${String(k.kind)}`);

  let objs: K8sObject[] = [...base];
  for (const r of (k.resources as string[] | undefined) ?? []) {
    const p = resolve(dir, r);
    if (statSync(p).isDirectory()) objs.push(...build(p, 'Kustomization'));
    else objs.push(...(parseYamlFile(p) as K8sObject[]));
  }
  for (const c of (k.components as string[] | undefined) ?? []) objs = build(resolve(dir, c), 'Component', objs);

  const opts = (k.generatorOptions ?? {}) as Dict;
  const gens = [...((k.configMapGenerator as Dict[] | undefined) ?? []).map((g) => ({ g, kind: 'ConfigMap' })), ...((k.secretGenerator as Dict[] | undefined) ?? []).map((g) => ({ g, kind: 'Secret' }))];
  if (gens.length && opts.disableNameSuffixHash !== true) throw new Error(`${file}: set generatorOptions.disableNameSuffixHash: true (name hashes are not implemented)`);
  for (const { g, kind } of gens) objs = generate(dir, file, kind, g, objs);

  for (const p of (k.patches as Dict[] | undefined) ?? []) objs = patch(dir, file, p, objs);
  for (const img of (k.images as Dict[] | undefined) ?? []) setImage(objs, img);
  if (typeof k.namespace === 'string') {
    for (const o of objs) if (!CLUSTER_SCOPED.has(o.kind)) o.metadata.namespace = k.namespace;
  }
  return objs;
}

/** KEY=VALUE lines (comments and blank lines skipped), as kustomize reads `envs` files. */
function envFile(path: string): Array<[string, string]> {
  return readFileSync(path, 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const i = l.indexOf('=');
      if (i < 1) throw new Error(`${path}: "${l}" is not KEY=VALUE`);
      return [l.slice(0, i), l.slice(i + 1)] as [string, string];
    });
}

function generate(dir: string, file: string, kind: string, g: Dict, objs: K8sObject[]): K8sObject[] {
  for (const key of Object.keys(g)) if (!['name', 'envs', 'literals', 'files', 'behavior', 'type'].includes(key)) throw new Error(`${file}: ${kind} generator field "${key}" not supported`);
  const pairs: Array<[string, string]> = [];
  for (const e of (g.envs as string[] | undefined) ?? []) pairs.push(...envFile(resolve(dir, e)));
  for (const l of (g.literals as string[] | undefined) ?? []) {
    const i = l.indexOf('=');
    pairs.push([l.slice(0, i), l.slice(i + 1)]);
  }
  for (const f of (g.files as string[] | undefined) ?? []) {
    const [key, path] = f.includes('=') ? f.split('=', 2) : [f.split('/').pop()!, f];
    pairs.push([key, readFileSync(resolve(dir, path), 'utf8')]);
  }
  const encode = (v: string) => (kind === 'Secret' ? Buffer.from(v, 'utf8').toString('base64') : v);
  const data: Record<string, string> = Object.fromEntries(pairs.map(([a, b]) => [a, encode(b)]));
  const name = g.name as string;
  const behavior = (g.behavior as string | undefined) ?? 'create';
  const at = objs.findIndex((o) => o.kind === kind && o.metadata.name === name);
  if (behavior === 'create') {
    if (at >= 0) throw new Error(`${file}: ${kind} ${name} already exists (use behavior: merge or replace)`);
    const obj: K8sObject = { apiVersion: 'v1', kind, metadata: { name }, data };
    if (kind === 'Secret') obj.type = (g.type as string | undefined) ?? 'Opaque';
    return [...objs, obj];
  }
  if (at < 0) throw new Error(`${file}: ${kind} ${name} to ${behavior} does not exist`);
  const prev = objs[at];
  const next = { ...prev, data: behavior === 'merge' ? { ...(prev.data as Dict), ...data } : data };
  return objs.map((o, i) => (i === at ? next : o));
}

function patch(dir: string, file: string, p: Dict, objs: K8sObject[]): K8sObject[] {
  const text = typeof p.path === 'string' ? readFileSync(resolve(dir, p.path), 'utf8') : (p.patch as string);
  const docs = parseAllDocuments(text).map((d) => d.toJS() as Json);
  const target = p.target as Dict | undefined;
  if (docs.length === 1 && Array.isArray(docs[0])) {
    if (!target) throw new Error(`${file}: a JSON 6902 patch needs a target`);
    const hits = objs.filter((o) => matches(o, target));
    if (!hits.length) throw new Error(`${file}: patch target ${JSON.stringify(target)} matches nothing`);
    return objs.map((o) => (hits.includes(o) ? jsonPatch(o, docs[0] as Dict[]) : o));
  }
  let out = objs;
  for (const doc of docs as Dict[]) {
    const sel = target ?? { kind: doc.kind, name: (doc.metadata as Dict).name };
    const hits = out.filter((o) => matches(o, sel));
    if (!hits.length) throw new Error(`${file}: patch for ${JSON.stringify(sel)} matches nothing`);
    out = out.map((o) => (hits.includes(o) ? (smp(o as unknown as Dict, doc, '') as unknown as K8sObject) : o));
  }
  return out;
}

function matches(o: K8sObject, t: Dict): boolean {
  const [group, version] = o.apiVersion.includes('/') ? o.apiVersion.split('/') : ['', o.apiVersion];
  return (
    (t.kind === undefined || t.kind === o.kind) &&
    (t.name === undefined || t.name === o.metadata.name) &&
    (t.group === undefined || t.group === group) &&
    (t.version === undefined || t.version === version)
  );
}

/** Strategic merge: maps merge, lists with a known merge key merge by it, other lists and scalars are replaced. */
function smp(base: Json, p: Json, key: string): Json {
  if (p === null) return null;
  if (Array.isArray(p)) {
    const mk = MERGE_KEYS[key];
    if (!mk || !Array.isArray(base)) return structuredClone(p);
    const id = (x: Json) => mk.split('.').reduce<Json>((v, k) => (v && typeof v === 'object' && !Array.isArray(v) ? v[k] : null), x);
    const out = base.map((b) => structuredClone(b));
    for (const item of p) {
      const i = out.findIndex((b) => id(b) === id(item));
      if (i >= 0) out[i] = smp(out[i], item, '');
      else out.push(structuredClone(item));
    }
    return out;
  }
  if (typeof p === 'object' && base && typeof base === 'object' && !Array.isArray(base)) {
    const out: Dict = { ...base };
    for (const [k, v] of Object.entries(p)) out[k] = k in base ? smp(base[k], v, k) : structuredClone(v);
    return out;
  }
  return structuredClone(p);
}

/** RFC 6902 add/replace/remove (the ops deploy/k8s uses). */
function jsonPatch(o: K8sObject, ops: Dict[]): K8sObject {
  const doc = structuredClone(o) as unknown as Dict;
  for (const op of ops) {
    const parts = (op.path as string).split('/').slice(1).map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
    const last = parts.pop()!;
    let parent: Json = doc;
    for (const part of parts) {
      parent = Array.isArray(parent) ? parent[Number(part)] : (parent as Dict)[part];
      if (parent === undefined || parent === null) throw new Error(`JSON patch path ${String(op.path)} does not exist in ${o.kind}/${o.metadata.name}`);
    }
    if (Array.isArray(parent)) {
      const i = last === '-' ? parent.length : Number(last);
      if (op.op === 'add') parent.splice(i, 0, structuredClone(op.value));
      else if (op.op === 'replace') parent[i] = structuredClone(op.value);
      else if (op.op === 'remove') parent.splice(i, 1);
      else throw new Error(`JSON patch op ${String(op.op)} not supported`);
    } else {
      const obj = parent as Dict;
      if (op.op === 'add' || op.op === 'replace') obj[last] = structuredClone(op.value);
      else if (op.op === 'remove') delete obj[last];
      else throw new Error(`JSON patch op ${String(op.op)} not supported`);
    }
  }
  return doc as unknown as K8sObject;
}

/** `images:` — containers whose image name is `name` get newName / newTag. */
function setImage(objs: K8sObject[], img: Dict): void {
  const visit = (v: Json): void => {
    if (Array.isArray(v)) return v.forEach(visit);
    if (!v || typeof v !== 'object') return;
    for (const key of ['containers', 'initContainers']) {
      for (const c of (v[key] as Dict[] | undefined) ?? []) {
        const image = c.image as string;
        const at = image.lastIndexOf(':') > image.lastIndexOf('/') ? image.lastIndexOf(':') : image.length;
        const [name, tag] = [image.slice(0, at), image.slice(at + 1)];
        if (name !== img.name) continue;
        c.image = `${(img.newName as string | undefined) ?? name}${(img.newTag as string | undefined) ?? tag ? `:${(img.newTag as string | undefined) ?? tag}` : ''}`;
      }
    }
    for (const x of Object.values(v)) visit(x);
  };
  for (const o of objs) visit(o as unknown as Json);
}
