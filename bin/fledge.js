#!/usr/bin/env node
// Fledge needs a current Node; say so plainly instead of failing deep inside a dependency.
// The minimum is package.json's "engines": commander, the CLI's parser, needs 22.12.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 12)) {
  process.stderr.write(`fledge: Node.js 22.12 or newer is required (this is ${process.versions.node})\n`);
  process.exit(1);
}
const { main } = await import('../dist/cli/main.js').catch((err) => {
  process.stderr.write(`fledge: cannot load dist/ (${err.code ?? err.message}); run \`npm run build\` first\n`);
  process.exit(1);
});
process.exitCode = await main(process.argv.slice(2));
