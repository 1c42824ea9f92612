// Loader of the @gwasgrid/native addon. Never throws: when the addon was not built (no compiler, build
// skipped or failed) or cannot be loaded, `binding` is null and `reason` says why.
//
//   const { binding, variant, reason } = require('@gwasgrid/native');
//
// binding: the N-API module (see src/addon.cc for the exported functions) or null.
// variant: build/variant.json as written by scripts/build.cjs ({ lapacke, isa, selectedIsa, ... }) or null.
'use strict';

const fs = require('node:fs');
const path = require('node:path');

const addonPath = path.join(__dirname, 'build', 'Release', 'gwasgrid_native.node');
const variantPath = path.join(__dirname, 'build', 'variant.json');
const skippedPath = path.join(__dirname, 'build', 'skipped.json');

function readJson(file) {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return null;
  }
}

function load() {
  if (!fs.existsSync(addonPath)) {
    const skipped = readJson(skippedPath);
    const why =
      skipped && skipped.reason
        ? `build skipped: ${skipped.reason}`
        : 'not built (run `npm rebuild @gwasgrid/native`)';
    return { binding: null, variant: null, reason: `@gwasgrid/native ${why}` };
  }
  try {
    const binding = require(addonPath);
    return { binding, variant: readJson(variantPath), reason: null };
  } catch (e) {
    const msg = e && e.message ? String(e.message).split('\n')[0] : String(e);
    return { binding: null, variant: null, reason: `@gwasgrid/native failed to load: ${msg}` };
  }
}

module.exports = { ...load(), addonPath };
