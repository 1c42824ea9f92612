#!/usr/bin/env node
// Builds the @gwasgrid/native addon (the package's `install` script). It NEVER fails the install: when a
// tool is missing or the build fails it prints one line saying why and exits 0, and gwasgrid then uses its
// WebAssembly / TypeScript kernels.
//
// Environment:
//   GWASGRID_NATIVE_SKIP=1          do not build (prints why, exits 0)
//   GWASGRID_NATIVE_NO_LAPACKE=1    build the C++-only variant even if LAPACKE/OpenBLAS are installed
//   GWASGRID_NATIVE_FORCE=1         rebuild even if build/variant.json says the build is up to date
//   GWASGRID_NATIVE_VERBOSE=1       show the compiler output
//   CXX                             the C++ compiler (default: c++), as used by node-gyp's make
'use strict';

const { spawnSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const PKG = '@gwasgrid/native';
const root = path.resolve(__dirname, '..');
const buildDir = path.join(root, 'build');
const addonPath = path.join(buildDir, 'Release', 'gwasgrid_native.node');
const variantPath = path.join(buildDir, 'variant.json');
const skippedPath = path.join(buildDir, 'skipped.json');
const verbose = process.env.GWASGRID_NATIVE_VERBOSE === '1';
const started = Date.now();

function say(line) {
  console.log(`${PKG}: ${line}`);
}

class Skip extends Error {}

function skip(reason) {
  throw new Skip(reason);
}

function run(cmd, args, opts = {}) {
  return spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...opts });
}

function splitCommand(cmd) {
  return cmd.trim().split(/\s+/).filter(Boolean);
}

/** The directory containing include/node/node_api.h (and common.gypi), from the running Node's prefix. */
function findNodeDir() {
  const candidates = [path.resolve(path.dirname(process.execPath), '..'), '/usr', '/usr/local'];
  for (const dir of candidates) {
    const inc = path.join(dir, 'include', 'node');
    if (fs.existsSync(path.join(inc, 'node_api.h')) && fs.existsSync(path.join(inc, 'common.gypi')))
      return dir;
  }
  return skip(`no Node headers: include/node/node_api.h not found under ${candidates.join(', ')}`);
}

/** node-gyp's entry script: npm's own copy (lifecycle env var or next to the node binary), or a local one. */
function findNodeGyp() {
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  const candidates = [
    process.env.npm_config_node_gyp,
    path.join(prefix, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
    path.join(
      path.dirname(process.execPath),
      'node_modules',
      'npm',
      'node_modules',
      'node-gyp',
      'bin',
      'node-gyp.js',
    ),
  ];
  for (const c of candidates) if (c && fs.existsSync(c)) return c;
  try {
    return require.resolve('node-gyp/bin/node-gyp.js');
  } catch {
    return skip('node-gyp not found (it normally comes with npm)');
  }
}

function findCompiler() {
  const cxx = process.env.CXX && process.env.CXX.trim() ? process.env.CXX : 'c++';
  const [bin, ...pre] = splitCommand(cxx);
  const r = run(bin, [...pre, '--version']);
  if (r.error || r.status !== 0) skip(`no C++ compiler: '${cxx}' is not runnable`);
  const version = (r.stdout || '').split('\n')[0].trim();
  for (const [tool, args] of [
    ['make', ['--version']],
    [process.env.PYTHON || 'python3', ['--version']],
  ]) {
    const t = run(tool, args);
    if (t.error || t.status !== 0) skip(`no ${path.basename(tool)} (node-gyp needs make and python3)`);
  }
  return { cxx, bin, pre, version };
}

const LAPACKE_PROBE = `#include <complex>
#define LAPACK_COMPLEX_CPP
#include <lapacke.h>
int main() {
  double a[4] = {2.0, 1.0, 1.0, 2.0}, w[2];
  lapack_int info = LAPACKE_dsyevd(LAPACK_COL_MAJOR, 'V', 'L', 2, a, 2, w);
  return info == 0 && w[0] > 0.999 && w[0] < 1.001 && w[1] > 2.999 && w[1] < 3.001 ? 0 : 1;
}
`;

/** Compiles, links and runs a tiny dsyevd call; returns { libs, include } or a reason string. */
function detectLapacke(compiler) {
  if (process.env.GWASGRID_NATIVE_NO_LAPACKE === '1') return 'disabled by GWASGRID_NATIVE_NO_LAPACKE=1';
  const incDirs = ['', '/usr/include/openblas', '/usr/include/lapacke', '/usr/local/include'].filter(
    (d) => d === '' || fs.existsSync(path.join(d, 'lapacke.h')),
  );
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gwasgrid-lapacke-'));
  try {
    const src = path.join(tmp, 'probe.cc');
    const exe = path.join(tmp, 'probe');
    fs.writeFileSync(src, LAPACKE_PROBE);
    let lastError = 'lapacke.h not found';
    for (const inc of incDirs) {
      for (const libs of [['-llapacke', '-lopenblas'], ['-llapacke']]) {
        const args = [...compiler.pre, '-O1', ...(inc ? [`-I${inc}`] : []), src, '-o', exe, ...libs];
        const r = run(compiler.bin, args, { timeout: 120_000 });
        if (r.error || r.status !== 0) {
          const msg = `${r.stderr || ''}`;
          lastError =
            /lapacke\.h/.test(msg) && /No such file|not found/i.test(msg)
              ? 'lapacke.h not found'
              : `cannot link ${libs.join(' ')}`;
          continue;
        }
        const t = run(exe, [], { timeout: 30_000 });
        if (t.status === 0) return { libs, include: inc };
        lastError = `the ${libs.join(' ')} test program failed to run`;
      }
    }
    return lastError;
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

function fingerprint(parts) {
  const h = crypto.createHash('sha256');
  for (const p of parts) h.update(String(p)).update('\0');
  for (const dir of ['src', 'scripts']) {
    for (const f of fs.readdirSync(path.join(root, dir)).sort())
      h.update(f).update(fs.readFileSync(path.join(root, dir, f)));
  }
  h.update(fs.readFileSync(path.join(root, 'binding.gyp')));
  return h.digest('hex').slice(0, 16);
}

/** Loads the built addon in a child process (a broken library must not crash this script). */
function probeAddon() {
  const code = `const b = require(${JSON.stringify(addonPath)}); const a = new Float64Array([1,2,3,4]);
    const c = new Float64Array(4); b.syrkTSync(2, 2, a, c, 0);
    if (c[0] !== 10 || c[1] !== 14 || c[3] !== 20) throw new Error('wrong result');
    const w = new Float64Array(2); const m = new Float64Array([2, 1, 1, 2]); b.syevSync(2, m, w);
    if (Math.abs(w[0] - 1) > 1e-12 || Math.abs(w[1] - 3) > 1e-12) throw new Error('wrong eigenvalues');
    process.stdout.write(JSON.stringify(b.info()));`;
  const r = run(process.execPath, ['-e', code], { timeout: 60_000 });
  if (r.status !== 0)
    return {
      error: ((r.stderr || '').trim().split('\n').slice(-3).join(' ') || 'load failed').slice(0, 300),
    };
  return { info: JSON.parse(r.stdout) };
}

function nodeGyp(nodeGypJs, nodeDir, lapacke) {
  const args = [nodeGypJs, 'rebuild', '--release', `--nodedir=${nodeDir}`, '--jobs=max'];
  if (lapacke) {
    args.push('--gwas_lapacke=1', `--gwas_lapacke_libs=${lapacke.libs.join(' ')}`);
    if (lapacke.include) args.push(`--gwas_lapacke_include=${lapacke.include}`);
  } else {
    args.push('--gwas_lapacke=0');
  }
  if (!verbose) args.push('--loglevel=warn');
  const r = run(process.execPath, args, {
    cwd: root,
    stdio: verbose ? 'inherit' : 'pipe',
    timeout: 20 * 60_000,
  });
  const output = `${r.stdout || ''}${r.stderr || ''}`;
  return { ok: !r.error && r.status === 0, output };
}

function lastErrorLine(output) {
  const lines = output
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const pick =
    lines.find((l) => /\berror:/i.test(l) && !/^gyp/.test(l)) ||
    lines.find((l) => /^gyp ERR! stack Error:/.test(l)) ||
    lines.find((l) => /error/i.test(l)) ||
    lines[lines.length - 1] ||
    'unknown error';
  return pick.replace(/^gyp ERR! stack /, '').slice(0, 200);
}

/** Keeps the compiler output of a failed build for inspection; returns the path, relative to the package. */
function writeLog(output) {
  try {
    fs.mkdirSync(buildDir, { recursive: true });
    fs.writeFileSync(path.join(buildDir, 'build.log'), output);
    return 'see packages/native/build/build.log';
  } catch {
    return 'set GWASGRID_NATIVE_VERBOSE=1 for details';
  }
}

/** After a skip: no stale addon may stay behind, and index.cjs can tell why there is none. */
function recordSkip(reason) {
  fs.rmSync(addonPath, { force: true });
  fs.rmSync(variantPath, { force: true });
  fs.mkdirSync(buildDir, { recursive: true });
  fs.writeFileSync(skippedPath, JSON.stringify({ reason, at: new Date().toISOString() }, null, 2) + '\n');
}

function main() {
  if (process.env.GWASGRID_NATIVE_SKIP === '1') skip('GWASGRID_NATIVE_SKIP=1');
  const nodeDir = findNodeDir();
  const compiler = findCompiler();
  const nodeGypJs = findNodeGyp();
  const lapacke = detectLapacke(compiler);
  const lapackeOk = typeof lapacke === 'object';
  const fp = fingerprint([
    process.version,
    process.arch,
    process.platform,
    compiler.cxx,
    compiler.version,
    JSON.stringify(lapacke),
  ]);

  if (process.env.GWASGRID_NATIVE_FORCE !== '1' && fs.existsSync(variantPath) && fs.existsSync(addonPath)) {
    try {
      const previous = JSON.parse(fs.readFileSync(variantPath, 'utf8'));
      if (previous.fingerprint === fp && !probeAddon().error) {
        say(`up to date (${describe(previous)}); set GWASGRID_NATIVE_FORCE=1 to rebuild`);
        return;
      }
    } catch {
      // rebuild
    }
  }

  let attempt = nodeGyp(nodeGypJs, nodeDir, lapackeOk ? lapacke : null);
  let note = '';
  let probe = attempt.ok ? probeAddon() : null;
  if (lapackeOk && (!attempt.ok || probe.error)) {
    // LAPACKE was detected but the full build did not work: fall back to the C++-only variant.
    note = `LAPACKE variant failed (${attempt.ok ? probe.error : lastErrorLine(attempt.output)}); `;
    attempt = nodeGyp(nodeGypJs, nodeDir, null);
    probe = attempt.ok ? probeAddon() : null;
  }
  if (!attempt.ok) {
    const where = verbose ? 'output above' : writeLog(attempt.output);
    skip(`${note}compilation failed: ${lastErrorLine(attempt.output)}; ${where}`);
  }
  if (probe.error) skip(`${note}the built addon does not load: ${probe.error}`);

  const variant = {
    fingerprint: fp,
    lapacke: probe.info.lapacke,
    lapackeLibs: probe.info.lapacke ? lapacke.libs : [],
    lapackeReason: probe.info.lapacke ? null : note + (lapackeOk ? 'not linked' : lapacke),
    isa: probe.info.supportedIsas,
    selectedIsa: probe.info.isa,
    compiled: process.arch === 'x64' ? ['avx512', 'avx2', 'generic'] : ['generic'],
    compiler: compiler.version,
    node: process.version,
    nodeDir,
    builtAt: new Date().toISOString(),
  };
  fs.rmSync(skippedPath, { force: true });
  fs.writeFileSync(variantPath, JSON.stringify(variant, null, 2) + '\n');
  say(`built in ${((Date.now() - started) / 1000).toFixed(1)} s (${describe(variant)})`);
}

function describe(v) {
  const eigen = v.lapacke
    ? `eigen: LAPACKE dsyevd (${v.lapackeLibs.join(' ')})`
    : `eigen: own tridiagonal QL (no LAPACKE: ${v.lapackeReason})`;
  return `kernels: ${v.selectedIsa} of [${v.isa.join(', ')}]; ${eigen}`;
}

try {
  main();
} catch (e) {
  const reason = e instanceof Skip ? e.message : `unexpected error: ${e && e.message ? e.message : e}`;
  try {
    recordSkip(reason);
  } catch {
    // ignore: the message below is what matters
  }
  say(`build skipped (${reason}): the wasm/ts backends will be used`);
}
process.exitCode = 0;
