// Generator for tests/vectors/context_hash.json: independent contextHash
// vectors, computed without any code from this crate.
//
//   contextHash = hex(HMAC-SHA256(secretKey, canonicalize(JSON.parse(contextJson))))
//
// canonicalize: `@tufjs/canonical-json@2.0.0` (npm), the implementation the
// crate must agree with. HMAC: Node's `crypto.createHmac('sha256', key)`,
// key and message as UTF-8. Run with Node 20 from a scratch directory where
// the package is installed, never from inside the crate:
//
//   mkdir -p /tmp/ctxvec && cd /tmp/ctxvec && npm init -y >/dev/null \
//     && npm install @tufjs/canonical-json@2.0.0
//   cd /tmp/ctxvec && node /work/main/tests/vectors/context_hash.gen.mjs \
//     > /work/main/tests/vectors/context_hash.json
//
// Each context is authored as raw JSON text (`contextJson`). Both sides parse
// that exact text (Node with JSON.parse, the Rust test with serde_json), so a
// number written `1.0` reaches both as the same input. `context` is the same
// value re-serialised by JSON.stringify (so `1.0` shows as `1`), for reading.
//
// Numbers are what JavaScript makes of them: JSON.parse reads the nearest
// double, canonicalize accepts it when Number.isInteger, and JSON.stringify
// writes it (shortest round-trip digits, zero-padded below 1e21, exponent form
// from 1e21 up). So integers beyond 2^53 (`1e16`, 2^60), literals JavaScript
// rounds (`9007199254740993.0`, `1e-400`) and huge integral doubles
// (`1.5e300`) have a canonical form, and the vectors below pin it: SPEC.md
// section 11.5. (Section 11.3 refuses such numbers inside a request's `data`;
// canonical JSON itself takes any context.)
// Deliberately absent: lone surrogates (JSON refuses them, SPEC.md 11.1).

import { createHmac } from 'node:crypto';
import { createRequire } from 'node:module';
import { join } from 'node:path';

// Resolve the package from the working directory (the scratch dir), not from
// this file's location inside the crate.
const require = createRequire(join(process.cwd(), 'noop.js'));
const { canonicalize } = require('@tufjs/canonical-json');
const { version } = require('@tufjs/canonical-json/package.json');

const DEMO = 'demo-secret-key';
const LONG = 'nv-env-sk-7f3c9a1e2b4d6f8091a3c5e7f9b1d3e5a7c9e1f3b5d7f9a1c3e5-rotated-2024-11';
const UNICODE = 'clé-secrète-🔑-環境';

// [name, secretKey, contextJson]
const valid = [
  ['string-value', DEMO, '{"tenant":"org-acme"}'],
  [
    'object-value',
    DEMO,
    '{"tenant":{"id":"org-acme","data":{"name":"Acme Corp","plan":"enterprise","seats":250}}}',
  ],
  [
    'mixed-shapes-unsorted-input',
    LONG,
    '{"workspace":"ws-1","tenant":{"id":"t-1","data":{}},"app":"a","Team":{"id":"T9"}}',
  ],
  [
    'nested-data-objects-in-arrays-in-objects',
    LONG,
    '{"project":{"id":"p1","data":{"members":[{"user":{"tags":["b","a"],"id":"u1"},"role":"admin"},' +
      '{"role":"viewer","user":{"id":"u2","tags":[]}}],"meta":{"z":{"y":{"x":[[1,2],[3,[4,{"k":[]}]]]}}}}}}',
  ],
  [
    'unicode-accents-cjk-emoji',
    DEMO,
    '{"tenant":{"id":"café-Zürich","data":{"名前":"株式会社テスト","emoji":"🚀🎉👩‍👩‍👧","ñandú":"señor Ωμέγα","한국어":"서울"}}}',
  ],
  [
    'escapes-quote-backslash-newline-control',
    UNICODE,
    String.raw`{"tenant":{"id":"quote\"back\\slash","data":{"multi":"line1\nline2\r\n","ctl":"a\u0001b\u001fc\u007fd\u0000","tab":"\t","sep":"\u2028\u2029","key\"with\\escapes":"\\\"","slash":"a\/b"}}}`,
  ],
  [
    'key-order-utf16-differs-from-code-points',
    LONG,
    '{"\uFF61":1,"\uD83D\uDE00":2,"\uE000":3,"\uD800\uDC00":4,"é":5,"z":6,"ｚ":{"id":"fullwidth","data":{"\uFF61":"a","\uD83D\uDE00":"b"}}}',
  ],
  [
    'key-order-ascii-case-and-numeric-like',
    DEMO,
    '{"b":1,"B":2,"a":3,"A":4,"_":5,"10":6,"9":7,"1":8,"":9," ":10,"aa":11,"a_":12}',
  ],
  ['proto-and-constructor-keys', DEMO, '{"__proto__":"p","constructor":{"id":"c","data":{"toString":"x"}},"hasOwnProperty":"h"}'],
  [
    'integers-negative-and-large',
    LONG,
    '{"tenant":{"id":"ints","data":{"zero":0,"neg":-42,"pow53":9007199254740992,"negPow53":-9007199254740992,' +
      '"maxSafe":9007199254740991,"minSafe":-9007199254740991,"big":1234567890123,"u32max":4294967295,"i32min":-2147483648}}}',
  ],
  [
    'booleans-and-null-in-data',
    UNICODE,
    '{"flags":{"id":"f","data":{"on":true,"off":false,"nothing":null,"list":[null,true,false,0,"",[],{}]}}}',
  ],
  [
    'integral-floats-are-integers',
    DEMO,
    '{"tenant":{"id":"floats","data":{"one":1.0,"negTwo":-2.0,"exp":1e3,"expUpper":1E2,"negExp":-2.5e1,' +
      '"trailingZeros":100.000,"zeroFloat":0.0,"negZero":-0,"negZeroFloat":-0.0,"pow53Float":9007199254740992.0,"fracExp":1.5e1}}}',
  ],
  ['top-level-one-point-zero', LONG, '{"n":1.0}'],
  ['context-keys-any-characters', DEMO, '{"é":"x","z":"y","team.name":{"id":"acme","data":{"k":1}}}'],
  ['context-keys-spaces-markup-emoji', DEMO, '{"a b":"1","<b>":"2","🔑":"3","ñ.ü-ß_":"4"}'],
  ['empty-context', DEMO, '{}'],
  [
    'integers-beyond-2-53-outside-data',
    LONG,
    '{"tenant":{"id":"big","e16":1e16,"negE16":-1e16,"pow60":1152921504606846976,"pow60plus1":1152921504606846977,' +
      '"pow53plus1":9007199254740993,"pow53plus1Float":9007199254740993.0,"e16plus1":10000000000000001,' +
      '"u64max":18446744073709551615,"pow64":18446744073709551616,"e20":1e20,"below21":999999999999999999999,' +
      '"e21":1e21,"pow70":1180591620717411303424,"huge":1.5e300,"maxDouble":1.7976931348623157e308,' +
      '"long":123456789012345678901234567890,"negLong":-123456789012345678901234567890}}',
  ],
  [
    'literals-javascript-rounds-to-integers',
    UNICODE,
    '{"r":{"id":"round","tiny":1e-400,"negTiny":-1e-400,"almostOne":1.0000000000000001,' +
      '"halfAbove2_53":9007199254740992.5,"pointOneE1":0.1e1,"hundredEMinus2":100e-2,"list":[1e-400,2.00000000000000001]}}',
  ],
  ['integer-beyond-2-53-top-level', UNICODE, '{"n":1e16}'],
  ['integers-beyond-2-53-in-data', DEMO, '{"t":{"id":"x","data":{"pow60":1152921504606846976,"e21":1e21,"neg":-1e21}}}'],
  [
    'insignificant-whitespace-in-input',
    UNICODE,
    '{ \n\t"tenant" : {\r\n  "data" : { "b" : [ 1 , 2 ] , "a" : "x y" } ,\n  "id" : "ws" } ,  "app" : "a" }',
  ],
];

// Contexts canonical JSON refuses: a non-integer number anywhere.
const refused = [
  ['float-in-data', DEMO, '{"tenant":{"id":"x","data":{"ratio":1.5}}}'],
  ['negative-float-in-array', LONG, '{"tenant":{"id":"x","data":{"list":[1,2,-0.5]}}}'],
  ['small-exponent-deep', DEMO, '{"a":{"id":"x","data":{"deep":{"v":[{"w":1e-7}]}}}}'],
  ['float-after-valid-keys', UNICODE, '{"a":"ok","b":{"id":"y","data":{"pi":3.14159}}}'],
  ['top-level-float', LONG, '{"n":0.1}'],
  ['smallest-subnormal', DEMO, '{"t":{"id":"x","n":5e-324}}'],
  ['half-below-2-52', UNICODE, '{"t":{"id":"x","n":4503599627370495.5}}'],
];

function hmacHex(key, message) {
  return createHmac('sha256', Buffer.from(key, 'utf8')).update(Buffer.from(message, 'utf8')).digest('hex');
}

function fail(msg) {
  process.stderr.write(`context_hash.gen.mjs: ${msg}\n`);
  process.exit(1);
}

const names = new Set();
function uniqueName(name) {
  if (names.has(name)) fail(`duplicate name ${name}`);
  names.add(name);
}

const vectors = valid.map(([name, secretKey, contextJson]) => {
  uniqueName(name);
  const context = JSON.parse(contextJson);
  let canonical;
  try {
    canonical = canonicalize(context);
  } catch (e) {
    fail(`${name}: expected a canonical form, got ${e}`);
  }
  return { name, secretKey, contextJson, context, canonical, contextHash: hmacHex(secretKey, canonical) };
});

const notCanonicalizable = refused.map(([name, secretKey, contextJson]) => {
  uniqueName(name);
  const context = JSON.parse(contextJson);
  try {
    const c = canonicalize(context);
    fail(`${name}: expected canonicalize to throw, got ${c}`);
  } catch (e) {
    if (!(e instanceof TypeError)) fail(`${name}: unexpected error ${e}`);
  }
  return { name, secretKey, contextJson, context, canonical: null, contextHash: null, error: true };
});

// The ordering vector must actually separate UTF-16 order from code point order.
{
  const v = vectors.find((x) => x.name === 'key-order-utf16-differs-from-code-points');
  const keys = Object.keys(v.context);
  const utf16 = [...keys].sort();
  const codePoints = [...keys].sort((a, b) => a.codePointAt(0) - b.codePointAt(0));
  if (utf16.join('\0') === codePoints.join('\0')) fail('ordering vector does not separate the orders');
  if (utf16.indexOf('\uD83D\uDE00') > utf16.indexOf('\uFF61')) fail('emoji should sort before U+FF61');
}
if (new Set(vectors.map((v) => v.secretKey)).size < 2) fail('need at least two secret keys');

const out = {
  generator: 'tests/vectors/context_hash.gen.mjs (Node ' + process.version + ', node:crypto createHmac sha256)',
  package: `@tufjs/canonical-json@${version}`,
  formula: 'contextHash = lowercase hex(HMAC-SHA256(utf8(secretKey), utf8(canonicalize(JSON.parse(contextJson)))))',
  vectors,
  notCanonicalizable,
};
process.stdout.write(JSON.stringify(out, null, 2) + '\n');
