/** Whether a process with this pid exists (signal 0 reaches it; a zombie still counts). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
