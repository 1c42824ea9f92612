#!/usr/bin/env node
/**
 * `npm run proto`: regenerates the TypeScript for proto/**.proto into proto/gen (or the folder given as the
 * first argument: the staleness test generates into a temporary folder and compares). Needs `protoc`
 * (apt protobuf-compiler; 3.21.12 checked) and the ts-proto plugin from node_modules.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');
const out = resolve(process.argv[2] ?? join(here, 'gen'));

/** ts-proto options: grpc-js services, Node Buffers for `bytes`, `.js` import suffixes for NodeNext. */
export const TS_PROTO_OPTIONS = [
  'outputServices=grpc-js',
  'env=node',
  'esModuleInterop=true',
  'importSuffix=.js',
  'outputJsonMethods=false',
  'useDate=false',
];

function protoFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'gen' ? [] : protoFiles(p);
    return e.name.endsWith('.proto') ? [relative(here, p)] : [];
  });
}

mkdirSync(out, { recursive: true });
const plugin = join(root, 'node_modules', '.bin', 'protoc-gen-ts_proto');
try {
  execFileSync(
    process.env.PROTOC ?? 'protoc',
    [`--plugin=protoc-gen-ts_proto=${plugin}`, `--ts_proto_out=${out}`, `--ts_proto_opt=${TS_PROTO_OPTIONS.join(',')}`, '-I', here, ...protoFiles(here).sort()],
    { stdio: 'inherit' },
  );
} catch (e) {
  if (e.code === 'ENOENT') {
    process.stderr.write('proto: protoc not found; install it with `apt-get install -y protobuf-compiler` (or set PROTOC)\n');
    process.exit(2);
  }
  throw e;
}
