#!/usr/bin/env node
// kubectl (1.26+) runs this for `kubectl fledge <TAB>`, with the words typed after `fledge`, and
// reads cobra's completion protocol from it: what `fledge __complete` prints.
const { main } = await import('../dist/cli/main.js').catch((err) => {
  process.stderr.write(`kubectl_complete-fledge: cannot load dist/ (${err.code ?? err.message}); run \`npm run build\` first\n`);
  process.exit(1);
});
process.exitCode = await main(['__complete', ...process.argv.slice(2)]);
