export async function runControllerCommand(_args: string[]): Promise<number> {
  process.stderr.write('fledge controller: not built yet\n');
  return 1;
}
