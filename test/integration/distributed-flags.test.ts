/**
 * Every analysis flag of `gwasgrid mlm` in a distributed run (issue #4), with real processes of the built CLI:
 * `--mind` (sample QC on the coordinator; the kinship phase over the kept samples; workers remove the same
 * samples), `--format gemma,plink2,gapit,rmvp` (written by the coordinator from the workers' full-precision rows),
 * several traits (one kinship phase per distinct SNP set, one scan job per trait, PREFIX.<trait>.* files) and
 * `--plot`. Each run is compared with single-process `gwasgrid mlm` on the same flags: the same set of files, the
 * same bytes, and the same `.log.txt` apart from command line, date, timings and the lines describing the
 * distribution.
 *
 * Data: maize_mdp, where `--mind 0.03` removes 79 of 281 lines (one of them without phenotype, so the kinship
 * samples differ from every trait's analysed samples), and traits 1, 3, 4, 6 of maize_mdp.pheno.txt have three
 * different sets of analysed samples (4 and 6 share one); and the first 3000 SNPs of mouse_hs1940 (every sample,
 * CD8 and MCH by header name) to keep the run short. Workers run with GWASGRID_THREADS=1 (2-core machine).
 */
import { closeSync, copyFileSync, existsSync, openSync, readFileSync, readSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bfilePath, dataPath, tempDir } from '../helpers/data.js';
import { killAll } from '../helpers/proc.js';
import { cli, coordinator, expectEachShardOnce, expectSameOutputs, listening, worker } from '../helpers/distributed.js';

const MAIZE = ['--bfile', bfilePath('maize_mdp', 'maize_mdp'), '--pheno', dataPath('maize_mdp', 'maize_mdp.pheno.txt'), '--mind', '0.03'];
const FORMATS = ['--format', 'gemma,plink2,gapit,rmvp'];
const TRAITS = ['col1', 'col3', 'col4', 'col6'];

afterEach(() => killAll());

/** The first `m` SNPs of a PLINK fileset (SNP-major .bed: 3 magic bytes, then ⌈n/4⌉ bytes per SNP). */
function plinkHead(prefix: string, m: number, out: string): string {
  const fam = readFileSync(`${prefix}.fam`, 'utf8');
  const n = fam.split('\n').filter((l) => l.trim()).length;
  const bytes = 3 + m * Math.ceil(n / 4);
  const buf = Buffer.alloc(bytes);
  const fd = openSync(`${prefix}.bed`, 'r');
  readSync(fd, buf, 0, bytes, 0);
  closeSync(fd);
  writeFileSync(`${out}.bed`, buf);
  writeFileSync(`${out}.bim`, readFileSync(`${prefix}.bim`, 'utf8').split('\n').slice(0, m).join('\n') + '\n');
  copyFileSync(`${prefix}.fam`, `${out}.fam`);
  return out;
}

describe('distributed MLM with every flag of gwasgrid mlm (real processes)', () => {
  /** Single-process gwasgrid mlm on maize: four traits, --mind, four formats, plots. */
  let ref: string;

  beforeAll(async () => {
    ref = tempDir('flags-ref');
    const p = cli(['mlm', ...MAIZE, '--pheno-col', '1,3,4,6', ...FORMATS, '--plot', '--out', join(ref, 'm')], { GWASGRID_THREADS: '2' });
    expect((await p.exit).code, p.stderr).toBe(0);
    // The premise: --mind removes samples (one without phenotype), and the traits have three sample sets.
    expect(p.stderr).toMatch(/sample QC --mind 0\.03: 79 of 281 samples missing more than 3\.00% of 3093 SNPs removed/);
    expect(p.stderr).toMatch(/78 phenotyped samples of column 1 removed/);
    expect(p.stderr).toMatch(/traits column 4, column 6: the same 202 analysed samples/);
  });

  it('mlm --workers 2 with --mind, four traits, four formats and --plot: every file of plain mlm, same bytes', async () => {
    const dir = tempDir('flags-emb');
    const emb = cli(['mlm', ...MAIZE, '--pheno-col', '1,3,4,6', ...FORMATS, '--plot', '--workers', '2', '--out', join(dir, 'm')]);
    expect((await emb.exit).code, emb.stderr).toBe(0);
    // 4 traits × (4 formats, log, 2 plots × svg/png); nothing else (the shard folders are gone).
    const compared = expectSameOutputs(ref, 'm', dir, 'm');
    expect(compared).toHaveLength(TRAITS.length * 9);
    expect(readdirSync(dir).filter((f) => f.endsWith('.shards'))).toEqual([]);
    // One kinship phase per distinct SNP set (traits 4 and 6 share theirs), over the 202 kept samples.
    expect(emb.events('kinship-done')).toHaveLength(3);
    expect(emb.stderr).toMatch(/partial sums of 202 samples \(79 removed by --mind\)/);
    // One scan job per trait, each logged with its trait.
    expect(emb.events('ready')).toHaveLength(4);
    for (const t of ['1', '3', '4', '6']) expect(emb.stderr).toContain(`job ready: serving shards of column ${t}`);
    expect(readFileSync(join(dir, 'm.col4.log.txt'), 'utf8')).toMatch(/## Workers = 2 local worker processes/);
  });

  it('gwasgrid coordinator + 2 workers (one with --genotypes-from-coordinator), --mind, two traits: same bytes', async () => {
    const dir = tempDir('flags-coord');
    const out = join(dir, 'm');
    const c = coordinator([...MAIZE, '--pheno-col', '1,4', '--format', 'rmvp,gemma'], out);
    const port = await listening(c);
    const ws = [worker(port), worker(port, ['--genotypes-from-coordinator'])];
    expect((await c.exit).code, c.stderr).toBe(0);
    for (const w of ws) expect((await w.exit).code, w.stderr).toBe(0);
    for (const t of ['col1', 'col4']) {
      expectSameOutputs(ref, `m.${t}`, dir, `m.${t}`, (s) => ['.assoc.txt', '.MLM.csv', '.log.txt'].includes(s));
    }
    // Traits 1 and 4 pass different SNPs: two kinship phases (of one chunk each), then two scans; the workers
    // join again for each phase they see (a late worker may miss the first kinship phase).
    expect(c.events('kinship-done')).toHaveLength(2);
    expect(c.events('ready')).toHaveLength(2);
    for (const w of ws) expect(w.events('session').map((r) => r.phase).slice(-2)).toEqual(['scan', 'scan']);
    expect(ws[1].events('job-open').every((r) => r.remote)).toBe(true);
    expect(ws[1].events('genotypes').length).toBeGreaterThan(0);
    expect(readFileSync(`${out}.col4.log.txt`, 'utf8')).toMatch(/## Genotypes served = \d+ ranges/);
    // --keep-shards (the default): each trait's shards beside its output; the kinship partials with its first trait.
    expect(readdirSync(`${out}.col1.shards`).filter((f) => f.endsWith('.f64.sha256'))).toHaveLength(1);
    expect(readdirSync(`${out}.col4.shards`).filter((f) => f.endsWith('.tsv.sha256')).length).toBeGreaterThan(0);
  });

  it('SIGTERM during the second trait: the finished trait is kept, the restart resumes both phases, same bytes', async () => {
    const dir = tempDir('flags-term');
    const out = join(dir, 'm');
    const flags = [...MAIZE, '--pheno-col', '1,4', ...FORMATS];
    const c1 = coordinator(flags, out, ['--shard-size', '20', '--lease-timeout', '6']);
    const port = await listening(c1);
    const ws = [worker(port), worker(port)];
    await c1.waitFor(() => c1.events('ready').length >= 2, 'the scan of the second trait');
    c1.kill('SIGTERM');
    expect((await c1.exit).code, c1.stderr).toBe(143);
    const stopped = c1.events('stopped')[0];
    expect(stopped.msg).toMatch(/\(\d+ of 155 shards done for column 4\)/);
    expect(stopped.msg).toContain(`${out}.<trait>.shards/`);
    for (const w of ws) expect((await w.exit).code, w.stderr).toBe(0);
    // The first trait's files were written when its scan was done; none of the second's.
    expect(existsSync(`${out}.col1.assoc.txt`)).toBe(true);
    expect(existsSync(`${out}.col4.assoc.txt`) || existsSync(`${out}.col4.glm.linear`)).toBe(false);

    const c2 = coordinator(flags, out, ['--shard-size', '20']);
    const port2 = await listening(c2);
    const ws2 = [worker(port2), worker(port2)];
    expect((await c2.exit).code, c2.stderr).toBe(0);
    for (const w of ws2) expect((await w.exit).code, w.stderr).toBe(0);
    // Both kinship phases and the first trait's scan come back from disk; only the second trait is computed.
    expect(c2.events('kinship-resume').map((r) => r.skipped)).toEqual([1, 1]);
    const resumed = c2.events('resume');
    expect(resumed[0].skipped).toBe(155);
    expect(c2.events('finished').filter((r) => r.shard!.startsWith('kinship-'))).toHaveLength(0);
    expect(resumed[1].skipped).toBeLessThan(155);
    expectEachShardOnce(c2, 155 - resumed[1].skipped!);
    for (const t of ['col1', 'col4']) expectSameOutputs(ref, `m.${t}`, dir, `m.${t}`, (s) => !s.endsWith('.svg') && !s.endsWith('.png') && !s.endsWith('.shards'));
  });

  it('mouse_hs1940 (3000 SNPs), --pheno-name CD8,MCH, --format gemma,plink2,gapit,rmvp: mlm --workers 2 = plain mlm', async () => {
    const dir = tempDir('flags-mouse');
    const bfile = plinkHead(bfilePath('mouse_hs1940', 'mouse_hs1940'), 3000, join(dir, 'mouse3k'));
    const flags = ['--bfile', bfile, '--pheno', dataPath('mouse_hs1940', 'mouse_hs1940.pheno.plink.txt'), '--pheno-name', 'CD8,MCH', ...FORMATS];
    // Side by side: the distributed run waits between its phases.
    const single = cli(['mlm', ...flags, '--out', join(dir, 'single')]);
    const emb = cli(['mlm', ...flags, '--workers', '2', '--out', join(dir, 'emb')]);
    expect((await single.exit).code, single.stderr).toBe(0);
    expect((await emb.exit).code, emb.stderr).toBe(0);
    expect(expectSameOutputs(dir, 'single', dir, 'emb')).toEqual(
      ['CD8', 'MCH'].flatMap((t) => [`.${t}.GWAS_Results.csv`, `.${t}.MLM.csv`, `.${t}.assoc.txt`, `.${t}.glm.linear`, `.${t}.log.txt`]).sort(),
    );
    expect(emb.events('kinship-done')).toHaveLength(2);
  });
});
