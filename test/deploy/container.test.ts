/**
 * deploy/container/Containerfile checked statically (no container engine here or in CI): a build stage on
 * node:20-bookworm with the compiler and OpenBLAS/LAPACKE headers, a runtime stage on node:20-bookworm-slim with
 * their shared libraries; every COPY source exists in the repository (and is not excluded by .dockerignore) or is
 * an output of the build stage; the final USER is a non-root uid created in that stage (and is the uid the
 * Kubernetes manifests run as); the entrypoint `gwasgrid` resolves to dist/bin/gwasgrid.js, the package's bin.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { REPO } from '../helpers/data.js';
import { parseYamlFile } from './kustomize.js';

const FILE = join(REPO, 'deploy', 'container', 'Containerfile');

interface Instruction {
  op: string;
  args: string;
  line: number;
}
interface Stage {
  image: string;
  name?: string;
  ins: Instruction[];
}

/** Instructions (continuations joined, comments dropped), grouped by stage. */
function parseContainerfile(text: string): Stage[] {
  const stages: Stage[] = [];
  let buf = '';
  let start = 0;
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (!buf && (line === '' || line.startsWith('#'))) return;
    if (!buf) start = i + 1;
    if (line.endsWith('\\')) {
      buf += `${line.slice(0, -1)} `;
      return;
    }
    buf += line;
    const [, op, args] = /^(\w+)\s+([\s\S]*)$/.exec(buf) ?? [];
    buf = '';
    if (!op) throw new Error(`Containerfile:${start}: cannot parse`);
    const ins = { op: op.toUpperCase(), args: args.trim(), line: start };
    if (ins.op === 'FROM') {
      const [, image, name] = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args) ?? [];
      stages.push({ image, name, ins: [] });
    } else {
      if (!stages.length) throw new Error(`Containerfile:${start}: ${ins.op} before FROM`);
      stages[stages.length - 1].ins.push(ins);
    }
  });
  return stages;
}

/** Sources and destination of a COPY (flags such as --from= and --chown= split off). */
function copyParts(args: string): { from?: string; sources: string[]; dest: string } {
  const words = args.split(/\s+/);
  const flags = words.filter((w) => w.startsWith('--'));
  const paths = words.filter((w) => !w.startsWith('--'));
  const from = flags.find((f) => f.startsWith('--from='))?.slice('--from='.length);
  return { from, sources: paths.slice(0, -1), dest: paths[paths.length - 1] };
}

/** Whether .dockerignore excludes a repository path (plain names, dir/*, ** /name and *.ext patterns). */
function ignored(path: string, patterns: string[]): boolean {
  const toRe = (p: string) => new RegExp(`^${p.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*\*\//g, '(?:.*/)?').replace(/\*/g, '[^/]*')}(?:/.*)?$`);
  return patterns.some((p) => toRe(p).test(path.replace(/\/$/, '')));
}

const text = readFileSync(FILE, 'utf8');
const stages = parseContainerfile(text);
const [build, runtime] = stages;
const dockerignore = readFileSync(join(REPO, '.dockerignore'), 'utf8')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith('#'));

const runs = (s: Stage) => s.ins.filter((i) => i.op === 'RUN').map((i) => i.args);
const workdir = (s: Stage, before: Instruction) => {
  let dir = '/';
  for (const i of s.ins) {
    if (i === before) break;
    if (i.op === 'WORKDIR') dir = posix.resolve(dir, i.args);
  }
  return dir;
};

describe('deploy/container/Containerfile (static checks)', () => {
  it('has a build stage on node:20-bookworm and a runtime stage on node:20-bookworm-slim', () => {
    expect(stages.map((s) => [s.image, s.name])).toEqual([
      ['node:20-bookworm', 'build'],
      ['node:20-bookworm-slim', 'runtime'],
    ]);
  });

  it('installs the compiler and OpenBLAS/LAPACKE headers to build, only the libraries to run (apt lists removed)', () => {
    const b = runs(build).join('\n');
    for (const p of ['g++', 'make', 'python3', 'libopenblas-dev', 'liblapacke-dev']) expect(b).toMatch(new RegExp(`install -y --no-install-recommends[^\\n]*\\s${p.replace('+', '\\+')}(\\s|$)`));
    const r = runs(runtime).join('\n');
    for (const p of ['libopenblas0', 'liblapacke']) expect(r).toMatch(new RegExp(`install -y --no-install-recommends[^\\n]*\\s${p}(\\s|$)`));
    expect(r).not.toMatch(/-dev\b|g\+\+/);
    for (const s of stages) for (const cmd of runs(s).filter((c) => c.includes('apt-get install'))) expect(cmd).toMatch(/rm -rf \/var\/lib\/apt\/lists/);
    // npm ci builds the addon and dist/; the build fails when the addon was not built.
    expect(b).toMatch(/npm ci .*&& test -f packages\/native\/build\/Release\/gwasgrid_native\.node .*&& npm prune --omit=dev/);
  });

  it('every COPY source of the build stage exists in the repository and is not excluded by .dockerignore', () => {
    const copies = build.ins.filter((i) => i.op === 'COPY');
    expect(copies.length).toBeGreaterThan(0);
    for (const c of copies) {
      const { from, sources } = copyParts(c.args);
      expect(from, `line ${c.line}`).toBeUndefined();
      for (const s of sources) {
        expect(existsSync(join(REPO, s)), `Containerfile:${c.line}: ${s} missing`).toBe(true);
        expect(ignored(s, dockerignore), `Containerfile:${c.line}: ${s} is excluded by .dockerignore`).toBe(false);
      }
    }
    // What `npm run build` (tsc -p tsconfig.build.json) compiles is all copied.
    const include = (JSON.parse(readFileSync(join(REPO, 'tsconfig.build.json'), 'utf8')) as { include: string[] }).include.map((g) => g.split('/')[0]);
    const copied = copies.flatMap((c) => copyParts(c.args).sources.map((s) => s.replace(/\/$/, '')));
    for (const top of include) expect(copied, `tsconfig.build.json includes ${top}/`).toContain(top);
  });

  it('the runtime stage copies only build outputs that exist in a build (dist/, the addon) and package files', () => {
    const srcRoot = workdir(build, build.ins[build.ins.length - 1]);
    const outDir = (JSON.parse(readFileSync(join(REPO, 'tsconfig.build.json'), 'utf8')) as { compilerOptions: { outDir: string } }).compilerOptions.outDir;
    const copies = runtime.ins.filter((i) => i.op === 'COPY');
    for (const c of copies) {
      const { from, sources } = copyParts(c.args);
      expect(from, `Containerfile:${c.line}`).toBe('build');
      for (const s of sources) {
        const rel = posix.relative(srcRoot, s);
        expect(rel.startsWith('..'), `${s} is outside ${srcRoot}`).toBe(false);
        // The same path in this checkout after `npm ci` + `npm run build` (the suite builds first).
        expect(existsSync(join(REPO, rel)), `Containerfile:${c.line}: ${rel} is not produced by the build`).toBe(true);
      }
    }
    const from = copies.flatMap((c) => copyParts(c.args).sources.map((s) => posix.relative(srcRoot, s)));
    expect(from).toEqual(expect.arrayContaining(['package.json', outDir, 'node_modules', 'packages/native/index.cjs', 'packages/native/build/Release/gwasgrid_native.node']));
  });

  it('runs as a non-root uid created in the runtime stage, the uid the Kubernetes pods run as', () => {
    const users = runtime.ins.filter((i) => i.op === 'USER');
    expect(users).toHaveLength(1);
    // USER comes after every RUN (so nothing after it runs as root by accident).
    const lastRun = runtime.ins.reduce((at, i, k) => (i.op === 'RUN' ? k : at), -1);
    expect(runtime.ins.indexOf(users[0])).toBeGreaterThan(lastRun);
    const [uid, gid] = users[0].args.split(':').map(Number);
    expect(uid).toBeGreaterThan(0);
    expect(gid).toBeGreaterThan(0);
    const setup = runs(runtime).join('\n');
    expect(setup).toMatch(new RegExp(`useradd [^\\n]*--uid ${uid}\\b[^\\n]*--gid ${gid}\\b`));
    expect(setup).toMatch(new RegExp(`groupadd [^\\n]*--gid ${gid}\\b`));
    for (const f of ['coordinator-job.yaml', 'workers-job.yaml']) {
      const [job] = parseYamlFile(join(REPO, 'deploy', 'k8s', 'base', f)) as Array<{ spec: { template: { spec: { securityContext: { runAsUser: number; runAsGroup: number } } } } }>;
      expect(job.spec.template.spec.securityContext, f).toMatchObject({ runAsUser: uid, runAsGroup: gid });
    }
  });

  it('the entrypoint `gwasgrid` resolves to dist/bin/gwasgrid.js, the package bin, a node script', () => {
    const entry = runtime.ins.filter((i) => i.op === 'ENTRYPOINT');
    expect(entry).toHaveLength(1);
    expect(JSON.parse(entry[0].args)).toEqual(['gwasgrid']);
    const link = /ln -s (\S+) \/usr\/local\/bin\/gwasgrid\b/.exec(runs(runtime).join('\n'));
    expect(link, 'a RUN puts gwasgrid on PATH').not.toBeNull();
    const app = workdir(runtime, entry[0]);
    const target = posix.relative(app, link![1]);
    expect(target).toBe('dist/bin/gwasgrid.js');
    expect((JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { bin: Record<string, string> }).bin.gwasgrid).toBe(target);
    expect(runs(runtime).join('\n')).toMatch(new RegExp(`chmod 0?755 ${link![1].replace(/[.]/g, '\\.')}`));
    expect(readFileSync(join(REPO, target), 'utf8').split('\n')[0]).toBe('#!/usr/bin/env node');
    // The runtime's dist/ comes from the build stage's WORKDIR.
    expect(runtime.ins.some((i) => i.op === 'COPY' && /--from=build \/src\/dist \.\/dist$/.test(i.args))).toBe(true);
    expect(app).toBe('/opt/gwasgrid');
  });

  it('.dockerignore keeps local builds, dependencies and VCS data out of the context', () => {
    for (const p of ['node_modules', 'dist', 'packages/native/build', '.git']) expect(ignored(p, dockerignore), p).toBe(true);
    expect(ignored('shared/lmm/scan.ts', dockerignore)).toBe(false);
  });
});
