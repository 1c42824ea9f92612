/**
 * deploy/k8s validated offline (no cluster here or in CI): every overlay rendered by our minimal kustomize
 * (test/deploy/kustomize.ts; compared with `kubectl kustomize` where kubectl exists), every object checked
 * against the Kubernetes API schemas of npm `kubernetes-models` (types, enums, required and unknown fields), the
 * references between objects resolved (ConfigMap/Secret keys, claims, Service selectors and port names, $(VAR)
 * in args), the security settings present, the memory requests equal to deploy/sizing.mjs for the sizes the
 * manifests declare, and every flag in a gwasgrid container's args known to the built CLI's own
 * `gwasgrid <command> --help` (nats-server's flags to `nats-server --help` where it is installed).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { REPO, tempDir } from '../helpers/data.js';
import { cliCommands, cliHelp } from '../helpers/proc.js';
import { runbookBlock } from '../helpers/runbook.js';
import { coordinatorBytes, quantity, workerBytes } from '../../deploy/sizing.mjs';
import { kustomize, parseYamlFile, type K8sObject } from './kustomize.js';
import { schemaErrors } from './validate.js';

const K8S = join(REPO, 'deploy', 'k8s');
const RUNBOOK = 'runbook-kubernetes.md';
const OVERLAYS = readdirSync(join(K8S, 'overlays')).sort();
const KUBECTL = ['/usr/bin/kubectl', '/usr/local/bin/kubectl'].find((p) => existsSync(p));
const NATS_SERVER = ['/usr/sbin/nats-server', '/usr/bin/nats-server'].find((p) => existsSync(p));

type Container = {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  env?: Array<{
    name: string;
    value?: string;
    valueFrom?: Record<string, { name?: string; key?: string; resource?: string; containerName?: string }>;
  }>;
  ports?: Array<{ name?: string; containerPort: number }>;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: {
    allowPrivilegeEscalation?: boolean;
    readOnlyRootFilesystem?: boolean;
    runAsNonRoot?: boolean;
    capabilities?: { drop?: string[] };
  };
  readinessProbe?: unknown;
  livenessProbe?: unknown;
  volumeMounts?: Array<{ name: string; mountPath: string; readOnly?: boolean }>;
};
type PodSpec = {
  containers: Container[];
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number; seccompProfile?: { type: string } };
  automountServiceAccountToken?: boolean;
  volumes?: Array<{
    name: string;
    persistentVolumeClaim?: { claimName: string; readOnly?: boolean };
    emptyDir?: unknown;
  }>;
};
type Workload = { obj: K8sObject; labels: Record<string, string>; pod: PodSpec };

/** The pod templates of Jobs, StatefulSets, Deployments (and bare Pods). */
function workloads(objs: K8sObject[]): Workload[] {
  return objs.flatMap((o) => {
    if (o.kind === 'Pod') return [{ obj: o, labels: o.metadata.labels ?? {}, pod: o.spec as PodSpec }];
    const t = (
      o.spec as { template?: { metadata?: { labels?: Record<string, string> }; spec: PodSpec } } | undefined
    )?.template;
    return t ? [{ obj: o, labels: t.metadata?.labels ?? {}, pod: t.spec }] : [];
  });
}

const isGwasgrid = (c: Container) => /(^|\/)gwasgrid(:|$)/.test(c.image) && !c.command;

/** Long flags named in a help text. */
function helpFlags(help: string): Set<string> {
  return new Set([...help.matchAll(/--([a-z][\w-]*)/g)].map((m) => m[1]));
}

/** The `--flag` tokens of an argument list (`--no-x` counts as `--x`), with the value that follows. */
function flagsOf(args: string[]): Array<{ flag: string; value?: string }> {
  const out: Array<{ flag: string; value?: string }> = [];
  args.forEach((a, i) => {
    if (!a.startsWith('--')) return;
    const [flag, inline] = a.slice(2).split('=', 2);
    out.push({ flag, value: inline ?? (args[i + 1]?.startsWith('--') ? undefined : args[i + 1]) });
  });
  return out;
}

const canonical = (objs: K8sObject[]) =>
  objs
    .map((o) => JSON.stringify(sortKeys(o)))
    .sort()
    .join('\n');
function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object')
    return Object.fromEntries(
      Object.entries(v)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, x]) => [k, sortKeys(x)]),
    );
  return v;
}

let tree: string;
const rendered = new Map<string, K8sObject[]>();

beforeAll(() => {
  // A copy of deploy/k8s with the join token created by the runbook's own command (run in the copy's root).
  const root = tempDir('k8s');
  tree = join(root, 'deploy', 'k8s');
  cpSync(K8S, tree, { recursive: true });
  execFileSync('bash', ['-euo', 'pipefail', '-c', runbookBlock(RUNBOOK, 'k8s-token')], { cwd: root });
  expect(readFileSync(join(tree, 'base', 'join-token.env'), 'utf8')).toMatch(/^token=[0-9a-f]{48}\n$/);
  for (const o of OVERLAYS) rendered.set(o, kustomize(join(tree, 'overlays', o)));
});

describe('deploy/k8s (offline)', () => {
  it('has the small and large overlays and a FarmCPU variant of small that differs by one component', () => {
    expect(OVERLAYS).toEqual(expect.arrayContaining(['small', 'large', 'small-farmcpu']));
    const kinds = (o: string) =>
      rendered
        .get(o)!
        .map((x) => `${x.kind}/${x.metadata.name}`)
        .sort();
    expect(kinds('small')).toEqual(
      [
        'ConfigMap/gwasgrid-run',
        'Job/gwasgrid-coordinator',
        'Job/gwasgrid-workers',
        'NetworkPolicy/gwasgrid-coordinator',
        'PersistentVolumeClaim/gwasgrid-genotypes',
        'PersistentVolumeClaim/gwasgrid-output',
        'Secret/gwasgrid-token',
        'Service/gwasgrid-coordinator',
      ].sort(),
    );
    expect(kinds('small-farmcpu')).toEqual(
      [
        ...kinds('small'),
        'NetworkPolicy/gwasgrid-nats',
        'Service/gwasgrid-nats',
        'StatefulSet/gwasgrid-nats',
      ].sort(),
    );
    const args = (o: string) =>
      workloads(rendered.get(o)!).find((w) => w.obj.metadata.name === 'gwasgrid-coordinator')!.pod
        .containers[0].args ?? [];
    expect(args('small-farmcpu')).toEqual([
      ...args('small'),
      '--method',
      'farmcpu',
      '--nats',
      'nats://gwasgrid-nats:4222',
    ]);
    for (const o of OVERLAYS)
      for (const x of rendered.get(o)!)
        expect(x.metadata.namespace, `${o}: ${x.kind}/${x.metadata.name}`).toBe('gwasgrid');
  });

  it.for(OVERLAYS)('%s: our render equals `kubectl kustomize` (where kubectl exists)', (overlay, ctx) => {
    if (!KUBECTL) {
      console.warn('kubectl not installed: the renderer is not cross-checked against kubectl kustomize here');
      return ctx.skip();
    }
    const out = execFileSync(KUBECTL, ['kustomize', join(tree, 'overlays', overlay)], { encoding: 'utf8' });
    const theirs = parseAllDocuments(out).map((d) => d.toJS() as K8sObject);
    expect(canonical(rendered.get(overlay)!)).toBe(canonical(theirs));
  });

  it.for(OVERLAYS)(
    '%s: every object passes the Kubernetes schema (kubernetes-models), no unknown fields',
    async (overlay) => {
      const errors = (await Promise.all(rendered.get(overlay)!.map(schemaErrors))).flat();
      expect(errors).toEqual([]);
    },
  );

  it('the schema check catches wrong types, bad enums and unknown fields (it can fail)', async () => {
    const job = structuredClone(rendered.get('small')!.find((o) => o.kind === 'Job')!) as K8sObject & {
      spec: { parallelism?: unknown; template: { spec: PodSpec } };
    };
    job.spec.parallelism = '2';
    const c = job.spec.template.spec.containers[0] as Container & Record<string, unknown>;
    c.readinesProbe = c.readinessProbe;
    c.imagePullPolicy = 'Sometimes';
    const errors = (await schemaErrors(job)).join('\n');
    expect(errors).toMatch(/parallelism must be integer/);
    expect(errors).toMatch(/imagePullPolicy must be equal to one of the allowed values/);
    expect(errors).toMatch(/unknown field \/spec\/template\/spec\/containers\/0\/readinesProbe/);
  });

  it('every other YAML file under deploy/k8s (tools/) passes the schema', async () => {
    const files: string[] = [];
    const walk = (d: string) => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        if (e.isDirectory()) walk(join(d, e.name));
        else if (
          e.name.endsWith('.yaml') &&
          !['base', 'overlays', 'components'].includes(relative(K8S, d).split('/')[0])
        )
          files.push(join(d, e.name));
      }
    };
    walk(K8S);
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) {
      const errors = (await Promise.all((parseYamlFile(f) as K8sObject[]).map(schemaErrors))).flat();
      expect(errors, f).toEqual([]);
    }
  });

  it.for(OVERLAYS)(
    '%s: references resolve (ConfigMap/Secret keys, claims, $(VAR) in args, Service selectors and ports)',
    (overlay) => {
      const objs = rendered.get(overlay)!;
      const byKind = (kind: string, name: string) =>
        objs.find((o) => o.kind === kind && o.metadata.name === name);
      const ws = workloads(objs);
      for (const { obj, pod } of ws) {
        const claims = new Set(
          (
            (obj.spec as { volumeClaimTemplates?: Array<{ metadata: { name: string } }> })
              .volumeClaimTemplates ?? []
          ).map((v) => v.metadata.name),
        );
        for (const v of pod.volumes ?? []) {
          if (v.persistentVolumeClaim)
            expect(
              byKind('PersistentVolumeClaim', v.persistentVolumeClaim.claimName) ??
                (obj.kind === 'Pod' ? {} : undefined),
              `${obj.metadata.name}: claim ${v.persistentVolumeClaim.claimName}`,
            ).toBeDefined();
        }
        const volumeNames = new Set([...(pod.volumes ?? []).map((v) => v.name), ...claims]);
        for (const c of pod.containers) {
          for (const m of c.volumeMounts ?? [])
            expect(volumeNames.has(m.name), `${obj.metadata.name}/${c.name}: mount ${m.name}`).toBe(true);
          const env = new Set((c.env ?? []).map((e) => e.name));
          for (const e of c.env ?? []) {
            const ref = e.valueFrom?.configMapKeyRef ?? e.valueFrom?.secretKeyRef;
            if (!ref) continue;
            const kind = e.valueFrom?.configMapKeyRef ? 'ConfigMap' : 'Secret';
            const target = byKind(kind, ref.name!) as { data?: Record<string, string> } | undefined;
            expect(target, `${obj.metadata.name}/${c.name}: ${kind} ${ref.name}`).toBeDefined();
            expect(
              Object.keys(target!.data ?? {}),
              `${obj.metadata.name}/${c.name}: ${kind} ${ref.name} key ${ref.key}`,
            ).toContain(ref.key);
          }
          for (const a of c.args ?? [])
            for (const m of a.matchAll(/\$\(([A-Z_][A-Z0-9_]*)\)/g))
              expect(env.has(m[1]), `${obj.metadata.name}/${c.name}: $(${m[1]}) has no env entry`).toBe(true);
        }
      }
      for (const svc of objs.filter((o) => o.kind === 'Service')) {
        const spec = svc.spec as {
          selector: Record<string, string>;
          ports: Array<{ targetPort: string | number }>;
        };
        const pods = ws.filter((w) => Object.entries(spec.selector).every(([k, v]) => w.labels[k] === v));
        expect(
          pods.map((p) => p.obj.metadata.name),
          `Service ${svc.metadata.name} selects one workload`,
        ).toHaveLength(1);
        const portNames = pods[0].pod.containers.flatMap((c) => (c.ports ?? []).map((p) => p.name));
        for (const p of spec.ports)
          if (typeof p.targetPort === 'string')
            expect(portNames, `Service ${svc.metadata.name} targetPort`).toContain(p.targetPort);
      }
      for (const np of objs.filter((o) => o.kind === 'NetworkPolicy')) {
        const sel = (np.spec as { podSelector: { matchLabels: Record<string, string> } }).podSelector
          .matchLabels;
        expect(
          ws.some((w) => Object.entries(sel).every(([k, v]) => w.labels[k] === v)),
          `NetworkPolicy ${np.metadata.name} selects a workload`,
        ).toBe(true);
      }
      // Workers reach the coordinator through its Service, on its port.
      const worker = ws.find((w) => w.labels['app.kubernetes.io/component'] === 'worker')!;
      const target = flagsOf(worker.pod.containers[0].args!).find((f) => f.flag === 'coordinator')!.value!;
      const [host, port] = target.split(':');
      const svc = byKind('Service', host) as { spec: { ports: Array<{ port: number }> } } | undefined;
      expect(svc, `--coordinator ${target} names a Service`).toBeDefined();
      expect(svc!.spec.ports.map((p) => String(p.port))).toContain(port);
    },
  );

  it.for(OVERLAYS)(
    '%s: non-root, no privilege escalation, read-only root, capabilities dropped, memory requests = limits, probes on servers',
    (overlay) => {
      for (const { obj, pod } of workloads(rendered.get(overlay)!)) {
        expect(pod.securityContext?.runAsNonRoot, obj.metadata.name).toBe(true);
        expect(pod.securityContext?.runAsUser, obj.metadata.name).toBeGreaterThan(0);
        expect(pod.securityContext?.seccompProfile?.type).toBe('RuntimeDefault');
        expect(pod.automountServiceAccountToken).toBe(false);
        for (const c of pod.containers) {
          const where = `${obj.metadata.name}/${c.name}`;
          expect(c.securityContext?.allowPrivilegeEscalation, where).toBe(false);
          expect(c.securityContext?.readOnlyRootFilesystem, where).toBe(true);
          expect(c.securityContext?.capabilities?.drop, where).toEqual(['ALL']);
          expect(c.resources?.requests?.memory, where).toBeDefined();
          expect(c.resources?.requests?.cpu, where).toBeDefined();
          expect(c.resources?.limits?.memory, where).toBeDefined();
          if (c.ports?.length) {
            expect(c.readinessProbe, `${where} serves a port: readiness probe`).toBeDefined();
            expect(c.livenessProbe, `${where} serves a port: liveness probe`).toBeDefined();
          }
        }
      }
    },
  );

  it.for(OVERLAYS)(
    '%s: memory requests are deploy/sizing.mjs for the declared sizes (threads = CPU request)',
    (overlay) => {
      const sized = workloads(rendered.get(overlay)!).filter(
        (w) => w.obj.metadata.annotations?.['gwasgrid.io/sizing'],
      );
      expect(sized.map((w) => w.labels['app.kubernetes.io/component']).sort()).toEqual([
        'coordinator',
        'worker',
      ]);
      for (const { obj, labels, pod } of sized) {
        const decl = Object.fromEntries(
          obj.metadata
            .annotations!['gwasgrid.io/sizing'].split(/\s+/)
            .map((kv) => kv.split('='))
            .map(([k, v]) => [k, Number(v)]),
        );
        const c = pod.containers[0];
        const threads = Number(c.resources!.requests!.cpu);
        expect(Number.isInteger(threads), `${obj.metadata.name}: whole CPUs`).toBe(true);
        const bytes =
          labels['app.kubernetes.io/component'] === 'coordinator'
            ? coordinatorBytes({ n: decl.n, genotyped: decl.genotyped })
            : workerBytes({ n: decl.n, threads });
        expect(
          c.resources!.requests!.memory,
          `${obj.metadata.name} (${obj.metadata.annotations!['gwasgrid.io/sizing']}, ${threads} CPUs)`,
        ).toBe(quantity(bytes));
        expect(c.resources!.limits!.memory).toBe(c.resources!.requests!.memory);
        if (labels['app.kubernetes.io/component'] === 'worker') {
          // --threads comes from the CPU request.
          const t = c.env!.find((e) => e.name === 'GWASGRID_THREADS')!.valueFrom!.resourceFieldRef!;
          expect([t.resource, t.containerName]).toEqual(['requests.cpu', c.name]);
        }
      }
    },
  );

  it.for(OVERLAYS)(
    "%s: every flag in a gwasgrid container's args is in that command's --help",
    (overlay, ctx) => {
      const commands = cliCommands();
      const helps = new Map<string, Set<string>>();
      let checked = 0;
      for (const { obj, pod } of workloads(rendered.get(overlay)!)) {
        for (const c of pod.containers.filter(isGwasgrid)) {
          const [sub, ...rest] = c.args ?? [];
          const flags = flagsOf(rest);
          const method = flags.find((f) => f.flag === 'method')?.value;
          if (method && method !== 'mlm' && !commands.includes(method)) {
            console.warn(
              `${overlay}: ${obj.metadata.name} uses --method ${method}, but \`gwasgrid --help\` lists no ${method} command yet: its flags are not checked`,
            );
            continue;
          }
          expect(commands, `${obj.metadata.name}: subcommand`).toContain(sub);
          if (!helps.has(sub)) helps.set(sub, helpFlags(cliHelp(sub)));
          const known = helps.get(sub)!;
          for (const { flag } of flags)
            expect(
              known.has(flag) || (flag.startsWith('no-') && known.has(flag.slice(3))),
              `${obj.metadata.name}: gwasgrid ${sub} --${flag}`,
            ).toBe(true);
          if (method)
            expect(cliHelp(sub)).toMatch(new RegExp(`--method[\\s\\S]*?choices:[^\\]]*"${method}"`));
          checked++;
        }
      }
      if (!checked) return ctx.skip();
    },
  );

  it('the flag check can fail: an unknown flag is not in --help', () => {
    expect(helpFlags(cliHelp('coordinator')).has('listen')).toBe(true);
    expect(helpFlags(cliHelp('coordinator')).has('listen-on')).toBe(false);
    expect(helpFlags(cliHelp('worker')).has('bfile')).toBe(false);
  });

  it("the runbook's `kubectl apply -k` paths are the validated overlays, and its sizing command prints the large overlay's requests", () => {
    const text = readFileSync(join(REPO, 'docs', RUNBOOK), 'utf8');
    const applied = [...text.matchAll(/kubectl apply -k ([\w./-]+)/g)].map((m) => m[1]);
    expect(applied.length).toBeGreaterThan(0);
    for (const p of applied)
      expect(
        OVERLAYS.map((o) => `deploy/k8s/overlays/${o}`),
        p,
      ).toContain(p);
    const printed = execFileSync('bash', ['-euo', 'pipefail', '-c', runbookBlock(RUNBOOK, 'k8s-sizing')], {
      cwd: REPO,
      encoding: 'utf8',
    });
    const memory = (role: string) =>
      new RegExp(`^${role}:.*Kubernetes memory: (\\S+),`, 'm').exec(printed)?.[1];
    const large = workloads(rendered.get('large')!);
    const req = (component: string) =>
      large.find((w) => w.labels['app.kubernetes.io/component'] === component)!.pod.containers[0].resources!
        .requests!;
    expect(memory('coordinator')).toBe(req('coordinator').memory);
    expect(memory('worker')).toBe(req('worker').memory);
    expect(printed).toMatch(new RegExp(`${req('worker').cpu} thread\\(s\\) per worker`));
  });

  it('nats-server flags of the NATS StatefulSet are in `nats-server --help` (where installed)', (ctx) => {
    if (!NATS_SERVER) {
      console.warn(
        'nats-server not installed: the NATS flags are not checked (apt-get install -y nats-server)',
      );
      return ctx.skip();
    }
    const help = spawnSync(NATS_SERVER, ['--help'], { encoding: 'utf8' });
    const known = helpFlags(`${help.stdout}${help.stderr}`);
    const nats = workloads(rendered.get('small-farmcpu')!).find((w) => w.obj.kind === 'StatefulSet')!;
    const flags = flagsOf(nats.pod.containers[0].args!);
    expect(flags.length).toBeGreaterThan(0);
    for (const { flag } of flags) expect(known.has(flag), `nats-server --${flag}`).toBe(true);
  });
});
