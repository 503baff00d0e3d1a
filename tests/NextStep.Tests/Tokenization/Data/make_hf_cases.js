// Writes hf_cases.json: token ids and decodes computed by Hugging Face tokenizers (npm "tokenizers" 0.23.2,
// the official Node binding of the Rust core) for inputs that the shared fixtures do not cover: letters outside
// the Basic Multilingual Plane, Unicode white space, case-folded contractions, lone surrogates (the binding turns
// them into U+FFFD when it converts the JavaScript string to UTF-8), and added-token flags.
// With a third argument, also the SHA-256 of the ids of the benchmark's mixed-language text (the file that
// `dotnet run --project bench/NextStep.Bench -c Release -- tokenizer` writes as out/bench/tokenizer_corpus.txt),
// taken over the ids as little-endian int32.
// Usage: npm install tokenizers@0.23.2 && node make_hf_cases.js <fixtures dir> <output file> [<corpus file>]
const { Tokenizer } = require('tokenizers');
const fs = require('fs');
const path = require('path');

const crypto = require('crypto');
const [fixtures, out, corpus] = process.argv.slice(2);
const units = (s) => Array.from({ length: s.length }, (_, i) => s.charCodeAt(i));

// Added tokens with every flag, put on top of the tiny model's tokenizer (ids follow on without a gap: the Rust
// core numbers added tokens itself when it loads a file).
const flagTokens = [
  { id: 1055, content: '<mask>', single_word: true, lstrip: true, rstrip: true, normalized: false, special: true },
  { id: 1056, content: 'caf\u00e9', single_word: false, lstrip: false, rstrip: false, normalized: true, special: false },
  { id: 1057, content: '[SEP]', single_word: false, lstrip: false, rstrip: true, normalized: false, special: true },
  { id: 1058, content: 'word', single_word: true, lstrip: false, rstrip: false, normalized: false, special: false },
  { id: 1059, content: '<|image', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true },
  { id: 1060, content: '\u4F60\u597D world', single_word: false, lstrip: false, rstrip: false, normalized: false, special: false },
];

const realTexts = [
  'a\u{20000}b', '\u{1D49C}\u{1D49C}!', 'x \u{1D49C}\u{1D49C}!', '1\u{1D7CE}2', '\u{10107}x', "'\u{1D49C}",
  "'\u017Fx", "'Sx", "'S'T", "'s's", "'LL", "I'M HERE'RE", "'\u2113\u2113", "'VE'D", "''s",
  '  \u00A0x', '\u3000\u3000x', 'a\u2028b', 'x\r\n \ty', 'a     b', '\n \n', ' \t\n', 'end  ', '\t!', ' !!x',
  'a\uFFFEb\uFFFFc\uFDD0', 'e\u0301\uFFFEe\u0301', 'x\uD800y', 'a\uDC00', '\uDBFF\uDBFF', '\uDC00\uD800', '\uD83D\uDE00\uD800',
  'A\u0301 vs \u00C1 and \u1100\u1161\u11A8', 'photo<|image_placeholder|>x', '<|image_placeholder|> x',
  '<|im_start|>  \n<|im_end|>\n', '[PAD] [PAD]', '<|im_start<|im_end|>', '\u{1F469}\u200D\u{1F4BB} \u{1F44D}\u{1F3FD}',
  'fn main() {\n\tprintln!("{}", 42);\n}\n', '12.5% of 1e-9 \u00BD \u2167 \u0661\u0662', '\u0645\u0631\u062D\u0628\u0627 \u05E9\u05DC\u05D5\u05DD \u0928\u092E\u0938\u094D\u0924\u0947',
];
const flagTexts = [
  'Hi <mask> there\t<mask>\t<mask>\u2000', 'a<mask> <mask>b <mask>', 'the cafe\u0301 and caf\u00e9!',
  '[SEP]   x[SEP]\n\ny', 'word words sword word_ word. word', '<|image_area|> <|image', ' <mask>  <mask>  ', 'say \u4F60\u597D world!',
];

async function run(tok, texts) {
  const cases = [];
  for (const text of texts) {
    const enc = await tok.encode(text, null, { addSpecialTokens: true });
    const ids = enc.getIds();
    cases.push({
      utf16: units(text), ids, tokens: enc.getTokens(),
      decoded: await tok.decode(ids, false), decoded_skip_special: await tok.decode(ids, true),
    });
  }
  return cases;
}

(async () => {
  const real = Tokenizer.fromFile(path.join(fixtures, 'tokenizer', 'tokenizer.json'));
  const tiny = JSON.parse(fs.readFileSync(path.join(fixtures, 'tiny', 'model', 'tokenizer.json'), 'utf8'));
  tiny.added_tokens.push(...flagTokens);
  const flags = Tokenizer.fromString(JSON.stringify(tiny));
  const result = {
    about: 'Hugging Face tokenizers (npm tokenizers 0.23.2, Rust core) on extra inputs; texts as UTF-16 code units. ' +
      '"real": tokenizer/tokenizer.json of the fixtures. "flags": tiny/model/tokenizer.json with "added_tokens" appended.',
    real: await run(real, realTexts),
    flags: { added_tokens: flagTokens, cases: await run(flags, flagTexts) },
  };
  if (corpus) {
    const text = fs.readFileSync(corpus, 'utf8');
    const ids = (await real.encode(text, null, { addSpecialTokens: true })).getIds();
    result.mixed_corpus = {
      utf8_bytes: Buffer.byteLength(text, 'utf8'), tokens: ids.length,
      ids_sha256: crypto.createHash('sha256').update(Buffer.from(Int32Array.from(ids).buffer)).digest('hex'),
      decodes_to_text: (await real.decode(ids, false)) === text,
    };
  }
  fs.writeFileSync(out, JSON.stringify(result, null, 1) + '\n');
})();
