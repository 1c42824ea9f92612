/**
 * shared/protocol: errors survive the trip through a gRPC status; job specs are checked against their id; the
 * join token is enforced on every kind of call by one wrapper (real grpc-js server and client in process);
 * TLS and mTLS from PEM files (made with openssl).
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { Metadata, Server, ServerCredentials, status, type ServiceError } from '@grpc/grpc-js';
import { toStatus, fromStatus, RejoinRequired } from '../../shared/protocol/status.js';
import { requireToken, tokenInterceptor, resolveToken } from '../../shared/protocol/auth.js';
import { serverCredentials, channelCredentials } from '../../shared/protocol/tls.js';
import { CoordinatorClient, CoordinatorService, pb, parseHostPort, type CoordinatorServer } from '../../shared/protocol/rpc.js';
import { toJobSpec, fromJobSpec, jobId, maskFingerprint, samplesFingerprint, kinshipSamplesOf, excludedMask, type JobDescription } from '../../shared/protocol/job.js';
import { KINSHIP_CHUNK_SNPS } from '../../shared/kinship/kinship.js';
import { DistributedError, InputError, NumericError, UsageError, exitCodeFor } from '../../shared/errors.js';
import { NULL_MODEL_FORMAT } from '../../shared/protocol/null-model-codec.js';
import { tempDir } from '../helpers/data.js';

const job: JobDescription = {
  method: 'mlm',
  input: { bfile: '/data/mouse', phenoCol: 1 },
  qc: { maf: 0.01, miss: 0.05, r2: 0.9999 },
  lmm: 4,
  backend: 'auto',
  blockSize: 0,
  totalSnps: 12226,
  analysedSamples: 1410,
  samplesSha256: samplesFingerprint(Int32Array.from([0, 2, 5])),
  totalSamples: 1940,
  nullModel: { sha256: 'f'.repeat(64), sizeBytes: 123, formatVersion: NULL_MODEL_FORMAT, modelVersion: 1 },
  shardSize: 765,
};

describe('error ⇄ status', () => {
  it('rebuilds the same typed error, code, message and hint', () => {
    const cases = [
      new UsageError('bad flag', 'use --x'),
      new InputError('INPUT_NOT_FOUND', 'file not found', { file: '/x.bed' }, 'check the path'),
      new NumericError('singular'),
      new DistributedError('PROTOCOL', 'versions differ', { hint: 'upgrade' }),
    ];
    for (const e of cases) {
      const back = fromStatus(toStatus(e), 'coordinator x');
      expect(back.constructor).toBe(e.constructor);
      expect(back.code).toBe(e.code);
      expect(back.hint).toBe(e.hint);
      expect(exitCodeFor(back)).toBe(exitCodeFor(e));
    }
    expect(fromStatus(toStatus(cases[1]), 'c').message).toBe('/x.bed: file not found');
  });

  it('maps transport statuses: UNAVAILABLE retryable, UNAUTHENTICATED names the token, ABORTED = join again', () => {
    const una = fromStatus({ code: status.UNAVAILABLE, details: 'connect ECONNREFUSED' }, 'coordinator h:1');
    expect(una.code).toBe('UNAVAILABLE');
    expect(una.retryable).toBe(true);
    const auth = fromStatus({ code: status.UNAUTHENTICATED, details: 'wrong or missing join token' }, 'coordinator h:1');
    expect(auth.message).toMatch(/refused the join token/);
    expect(exitCodeFor(auth)).toBe(6);
    expect(fromStatus(toStatus(new RejoinRequired('unknown worker')), 'c')).toBeInstanceOf(RejoinRequired);
  });
});

describe('job spec', () => {
  it('round-trips through the message and is checked against its id', () => {
    const spec = pb.JobSpec.decode(pb.JobSpec.encode(toJobSpec(job)).finish());
    const back = fromJobSpec(spec);
    expect(back.id).toBe(jobId(job));
    expect(back.job).toEqual({ ...job, input: { ...job.input, geno: undefined, anno: undefined, pheno: undefined, phenoName: undefined, covar: undefined } });
    expect(() => fromJobSpec({ ...spec, totalSnps: 1 })).toThrow(/does not match its content/);
    expect(() => fromJobSpec({ ...spec, method: 'farmcpu' })).toThrow(/not supported/);
    expect(jobId({ ...job, shardSize: 766 })).not.toBe(jobId(job));
  });

  it('carries VCF and HapMap inputs to workers, and refuses unknown VCF options', () => {
    for (const input of [
      { vcf: '/data/x.vcf.gz', vcfField: 'DS' as const, vcfMultiallelic: 'split' as const, pheno: '/data/p.txt', phenoCol: 2 },
      { hapmap: '/data/m.hmp.txt', phenoCol: 1 },
    ]) {
      const j = { ...job, input };
      const spec = pb.JobSpec.decode(pb.JobSpec.encode(toJobSpec(j)).finish());
      expect(fromJobSpec(spec)).toEqual({ id: jobId(j), job: j });
    }
    const bad = toJobSpec({ ...job, input: { vcf: '/x.vcf', phenoCol: 1 } });
    expect(() => fromJobSpec({ ...bad, input: { ...bad.input!, vcfField: 'AD' } })).toThrow(/VCF field "AD"/);
  });

  it('a kinship-phase spec has no null model, names the chunking and the QC mask, and has its own id', () => {
    const kin: JobDescription = { ...job, nullModel: undefined, shardSize: KINSHIP_CHUNK_SNPS, kinship: { mode: 1, chunkSize: KINSHIP_CHUNK_SNPS, maskSha256: maskFingerprint(Uint8Array.from([1, 0, 1])) } };
    const spec = pb.JobSpec.decode(pb.JobSpec.encode(toJobSpec(kin)).finish());
    expect(spec.nullModel).toBeUndefined();
    const back = fromJobSpec(spec);
    expect(back.job.kinship).toEqual(kin.kinship);
    expect(back.job.nullModel).toBeUndefined();
    expect(back.id).not.toBe(jobId(job));
    expect(jobId({ ...kin, kinship: { ...kin.kinship!, maskSha256: maskFingerprint(Uint8Array.from([1, 1, 1])) } })).not.toBe(back.id);
    expect(() => fromJobSpec({ ...spec, kinship: { ...spec.kinship!, chunkSize: 100 } })).toThrow(/chunks of 100 SNPs/);
    expect(() => fromJobSpec({ ...spec, kinship: undefined })).toThrow(/incomplete/);
  });

  it('carries the --mind exclusion and the row-values flag, both part of the id; the kinship samples are the kept ones', () => {
    const mind: JobDescription = { ...job, totalSamples: 6, excludedSamples: [1, 4], rowValues: true };
    const spec = pb.JobSpec.decode(pb.JobSpec.encode(toJobSpec(mind)).finish());
    expect(spec.rowValues).toBe(true);
    const back = fromJobSpec(spec);
    expect(back.job.excludedSamples).toEqual([1, 4]);
    expect(back.job.rowValues).toBe(true);
    expect(jobId({ ...mind, excludedSamples: [1] })).not.toBe(back.id);
    expect(jobId({ ...mind, rowValues: undefined })).not.toBe(back.id);
    // Without either, the id is the one of a job that never had them (absent fields are not hashed).
    expect(fromJobSpec(toJobSpec(job)).job.rowValues).toBeUndefined();
    expect(Array.from(kinshipSamplesOf(mind)!)).toEqual([0, 2, 3, 5]);
    expect(Array.from(excludedMask(mind)!)).toEqual([0, 1, 0, 0, 1, 0]);
    expect(kinshipSamplesOf(job)).toBeNull();
    expect(excludedMask(job)).toBeNull();
  });

  it('parses HOST:PORT and resolves the token from the flag or the environment', () => {
    expect(parseHostPort('127.0.0.1:0')).toEqual({ host: '127.0.0.1', port: 0 });
    expect(parseHostPort('[::1]:50051')).toEqual({ host: '[::1]', port: 50051 });
    expect(() => parseHostPort('nohost')).toThrow(/HOST:PORT/);
    expect(resolveToken('t', {})).toBe('t');
    expect(resolveToken(undefined, { GWASGRID_TOKEN: 'e' })).toBe('e');
    expect(() => resolveToken(undefined, {})).toThrow(/no join token/);
  });
});

/** A service whose handlers answer trivially (the token check is what is tested). */
function stubService(): CoordinatorServer {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const ok = (_c: unknown, cb: (e: null, r: any) => void) => cb(null, {});
  return {
    join: (_c, cb) => cb(null, pb.JoinReply.create({ workerId: 'w1' })),
    fetchNullModel: (call) => {
      call.write(pb.NullModelChunk.create({ offset: 0, data: Buffer.from('abc') }));
      call.end();
    },
    lease: ok,
    heartbeat: ok,
    submitShard: (call, cb) => {
      call.on('data', () => {});
      call.on('end', () => cb(null, pb.SubmitReply.create({ outcome: pb.SubmitReply_Outcome.ACCEPTED })));
    },
    submitKinship: (call, cb) => {
      call.on('data', () => {});
      call.on('end', () => cb(null, pb.SubmitReply.create({ outcome: pb.SubmitReply_Outcome.ACCEPTED })));
    },
    fetchGenotypes: (call) => call.end(),
    reportFailure: ok,
    leave: ok,
  };
}

async function start(creds: ServerCredentials, address = '127.0.0.1:0') {
  const server = new Server();
  const refused: string[] = [];
  server.addService(CoordinatorService, requireToken(CoordinatorService, stubService(), 'sesame', (_p, m) => refused.push(m)));
  const port = await new Promise<number>((res, rej) => server.bindAsync(address, creds, (e, p) => (e ? rej(e) : res(p))));
  return { server, port, refused };
}

const joinCall = (client: InstanceType<typeof CoordinatorClient>) =>
  new Promise<pb.JoinReply>((res, rej) =>
    client.join({ protocolVersion: 1, info: undefined }, new Metadata(), { deadline: Date.now() + 5000 }, (e: ServiceError | null, r: pb.JoinReply) =>
      e ? rej(e) : res(r),
    ),
  );

describe('join token (one wrapper for every call)', () => {
  it('refuses unary, server-streaming and client-streaming calls without the right token', async () => {
    const { server, port, refused } = await start(ServerCredentials.createInsecure());
    try {
      const creds = channelCredentials({});
      const good = new CoordinatorClient(`127.0.0.1:${port}`, creds, { interceptors: [tokenInterceptor('sesame')] });
      const bad = new CoordinatorClient(`127.0.0.1:${port}`, creds, { interceptors: [tokenInterceptor('open')] });
      const none = new CoordinatorClient(`127.0.0.1:${port}`, creds);
      expect((await joinCall(good)).workerId).toBe('w1');
      for (const c of [bad, none]) await expect(joinCall(c)).rejects.toMatchObject({ code: status.UNAUTHENTICATED });
      const stream = bad.fetchNullModel({ workerId: 'x', sha256: 'y' });
      stream.on('data', () => {});
      await expect(new Promise((res, rej) => (stream.on('error', rej), stream.on('end', res)))).rejects.toMatchObject({ code: status.UNAUTHENTICATED });
      await expect(
        new Promise((res, rej) => {
          const call = bad.submitShard((e, r) => (e ? rej(e) : res(r)));
          call.write({ header: { workerId: 'x', jobId: 'y', leaseId: 'z', index: 0, start: 0, end: 1 } });
          call.end();
        }),
      ).rejects.toMatchObject({ code: status.UNAUTHENTICATED });
      expect(refused).toEqual(['join', 'join', 'fetchNullModel', 'submitShard']);
      for (const c of [good, bad, none]) c.close();
    } finally {
      server.forceShutdown();
    }
  });
});

describe('TLS', () => {
  it('serves TLS with a certificate and requires client certificates with --tls-ca (mTLS)', async () => {
    const dir = tempDir('tls');
    const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
    ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=test-ca');
    for (const who of ['server', 'client']) {
      ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${who}.key`, '-out', `${who}.csr`, '-subj', `/CN=${who === 'server' ? 'localhost' : 'worker'}`);
      const ext = join(dir, `${who}.ext`);
      execFileSync('sh', ['-c', `printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > ${ext}`]);
      ssl('x509', '-req', '-in', `${who}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${who}.pem`, '-days', '1', '-extfile', ext);
    }
    const p = (f: string) => join(dir, f);
    const { server, port } = await start(serverCredentials({ cert: p('server.pem'), key: p('server.key'), ca: p('ca.pem') }));
    try {
      const opts = { interceptors: [tokenInterceptor('sesame')] };
      const mtls = new CoordinatorClient(`localhost:${port}`, channelCredentials({ ca: p('ca.pem'), cert: p('client.pem'), key: p('client.key') }), opts);
      expect((await joinCall(mtls)).workerId).toBe('w1');
      const noCert = new CoordinatorClient(`localhost:${port}`, channelCredentials({ ca: p('ca.pem') }), opts);
      await expect(joinCall(noCert)).rejects.toMatchObject({ code: status.UNAVAILABLE });
      const plain = new CoordinatorClient(`localhost:${port}`, channelCredentials({}), opts);
      await expect(joinCall(plain)).rejects.toMatchObject({ code: status.UNAVAILABLE });
      for (const c of [mtls, noCert, plain]) c.close();
    } finally {
      server.forceShutdown();
    }
    expect(() => serverCredentials({ cert: p('server.pem') })).toThrow(/--tls-cert and --tls-key together/);
    expect(() => serverCredentials({ ca: p('ca.pem') })).toThrow(/needs --tls-cert/);
    expect(() => channelCredentials({ ca: p('nope.pem') })).toThrow(/cannot read the --tls-ca file/);
  });
});
