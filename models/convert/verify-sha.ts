/**
 * npm run models:verify [-- <repository dir>]: checks every ONNX file against the sha256 in
 * its card. Exit code 0 when all match, 1 on any mismatch or missing file.
 */
import { REPOSITORY_DIR } from './catalogue.ts';
import { verifyRepository } from './verify.ts';

const repositoryDir = process.argv[2] ?? REPOSITORY_DIR;
const checks = verifyRepository(repositoryDir);
for (const check of checks) {
  const status = check.ok ? 'ok      ' : check.actual ? 'MISMATCH' : 'MISSING ';
  console.log(`${status} ${check.name.padEnd(10)} ${check.expected}${check.ok ? '' : `  (file: ${check.actual || 'not found'})`}`);
}
const failed = checks.filter((check) => !check.ok).length;
if (checks.length === 0) {
  console.error(`no model cards under ${repositoryDir}`);
  process.exit(1);
}
console.log(`${checks.length - failed} ok, ${failed} failed`);
process.exit(failed ? 1 : 0);
