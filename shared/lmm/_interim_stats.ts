// TEMPORARY: replaced by shared/stats/distributions.ts when it lands.
function lgamma(x: number): number {
  const g = 7;
  const c = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - lgamma(1 - x);
  x -= 1;
  let a = c[0];
  const t = x + g + 0.5;
  for (let i = 1; i < g + 2; i++) a += c[i] / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}
function betacf(a: number, b: number, x: number): number {
  const FPMIN = 1e-300;
  let c = 1, d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < FPMIN) d = FPMIN;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 10000; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + aa * d; if (Math.abs(d) < FPMIN) d = FPMIN;
    c = 1 + aa / c; if (Math.abs(c) < FPMIN) c = FPMIN;
    d = 1 / d; h *= d * c;
    aa = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + aa * d; if (Math.abs(d) < FPMIN) d = FPMIN;
    c = 1 + aa / c; if (Math.abs(c) < FPMIN) c = FPMIN;
    d = 1 / d;
    const del = d * c; h *= del;
    if (Math.abs(del - 1) < 1e-16) break;
  }
  return h;
}
function logBetaInc(a: number, b: number, x: number): number {
  if (x <= 0) return -Infinity;
  if (x >= 1) return 0;
  const lbt = lgamma(a + b) - lgamma(a) - lgamma(b) + a * Math.log(x) + b * Math.log1p(-x);
  if (x < (a + 1) / (a + b + 2)) return lbt + Math.log(betacf(a, b, x) / a);
  return Math.log1p(-Math.exp(lbt + Math.log(betacf(b, a, 1 - x) / b)));
}
export function logFUpperTail(f: number, d1: number, d2: number): number {
  if (!(f > 0)) return f === 0 ? 0 : NaN;
  return logBetaInc(d2 / 2, d1 / 2, d2 / (d2 + d1 * f));
}
export function logChisqUpperTail(x: number, k: number): number {
  void k;
  if (!(x > 0)) return x === 0 ? 0 : NaN;
  // chi2_1 upper tail = I_{1/(1+t)}... use F(1, inf) limit via erfc
  const z = Math.sqrt(x / 2);
  if (z < 5) return Math.log(erfc(z));
  // asymptotic log erfc
  const z2 = z * z;
  let s = 1, term = 1;
  for (let n = 1; n < 12; n++) { term *= -(2 * n - 1) / (2 * z2); s += term; }
  return -z2 - Math.log(z) - 0.5 * Math.log(Math.PI) + Math.log(s);
}
function erfc(x: number): number {
  // continued fraction / series via incomplete gamma Q(1/2, x^2)
  return Math.exp(logBetaIncLike(x));
}
function logBetaIncLike(x: number): number {
  // Q(0.5, x^2) via NR gcf/gser
  const a = 0.5, xx = x * x;
  const gln = lgamma(a);
  if (xx < a + 1) {
    let ap = a, sum = 1 / a, del = sum;
    for (let n = 0; n < 1000; n++) { ap++; del *= xx / ap; sum += del; if (Math.abs(del) < Math.abs(sum) * 1e-16) break; }
    return Math.log1p(-sum * Math.exp(-xx + a * Math.log(xx) - gln));
  }
  let b = xx + 1 - a, c = 1 / 1e-300, d = 1 / b, h = d;
  for (let i = 1; i < 1000; i++) {
    const an = -i * (i - a); b += 2;
    d = an * d + b; if (Math.abs(d) < 1e-300) d = 1e-300;
    c = b + an / c; if (Math.abs(c) < 1e-300) c = 1e-300;
    d = 1 / d; const del = d * c; h *= del; if (Math.abs(del - 1) < 1e-16) break;
  }
  return -xx + a * Math.log(xx) - gln + Math.log(h);
}
