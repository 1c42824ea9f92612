/**
 * Our printf-compatible formatting against values printed by C's printf (glibc 2.36) on this machine:
 * `printf "%.3f %.3f %.3f %.0e %.0e %.1e %.6e" 0.0625 0.3125 0.4375 1.5e-7 2.5 0.125 123456785`
 * → `0.062 0.312 0.438 1e-07 2e+00 1.2e-01 1.234568e+08` (exact binary ties round to even in C, away in JS).
 */
import { describe, expect, it } from 'vitest';
import { formatE, formatFixed, formatG, formatP } from '../../shared/results/format.js';

describe('C-compatible number formatting', () => {
  it('rounds exact ties to even like glibc printf', () => {
    expect([0.0625, 0.3125, 0.4375].map((x) => formatFixed(x, 3))).toEqual(['0.062', '0.312', '0.438']);
    expect(formatE(1.5e-7, 0)).toBe('1e-07');
    expect(formatE(2.5, 0)).toBe('2e+00');
    expect(formatE(0.125, 1)).toBe('1.2e-01');
    expect(formatE(123456785, 6)).toBe('1.234568e+08');
  });
  it('prints GEMMA-style %e and af', () => {
    expect(formatE(-0.07882975)).toBe('-7.882975e-02');
    expect(formatE(1e-5)).toBe('1.000000e-05');
    expect(formatFixed(0.443, 3)).toBe('0.443');
    expect(formatE(NaN)).toBe('NA');
  });
  it('prints %g with 10 significant digits like the GEMMA kinship text', () => {
    expect(formatG(0.3350989657123, 10)).toBe('0.3350989657');
    expect(formatG(-0.0000123456789012, 10)).toBe('-1.23456789e-05');
    expect(formatG(1e-5, 10)).toBe('1e-05');
    expect(formatG(0, 10)).toBe('0');
  });
  it('prints p-values below double range from their log10', () => {
    expect(formatP(0, -1234.5)).toBe('3.162278e-1235');
    expect(formatP(0.05, Math.log10(0.05))).toBe('5.000000e-02');
    expect(formatP(0, -400)).toBe('1.000000e-400');
  });
});
