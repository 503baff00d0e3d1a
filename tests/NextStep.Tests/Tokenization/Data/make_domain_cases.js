// Writes domain_cases.json: the ids that Hugging Face tokenizers (npm "tokenizers" 0.23.2, the Node binding of the
// Rust core) gives for texts with a domain tokenizer.json (the one `nextstep retokenize` writes for the tiny test
// tokenizer and the captions of 20,000 Shapes train scenes, which is what models/default ships).
// Usage: npm install tokenizers@0.23.2 && node make_domain_cases.js <tokenizer.json> <texts file, one per line> <output file>
const { Tokenizer } = require('tokenizers');
const fs = require('fs');

const [tokenizerPath, textsPath, out] = process.argv.slice(2);
const tokenizer = Tokenizer.fromFile(tokenizerPath);
const texts = fs.readFileSync(textsPath, 'utf8').split('\n').filter((t) => t.length > 0);

(async () => {
  const cases = [];
  for (const text of texts) {
    const encoding = await tokenizer.encode(text);
    cases.push({ text, ids: encoding.getIds() });
  }
  fs.writeFileSync(out, JSON.stringify({ about: 'Hugging Face tokenizers 0.23.2 on the domain tokenizer of the tiny test tokenizer + 20,000 Shapes train captions', cases }, null, 1) + '\n');
})();
