/**
 * Polls `check` every 100 ms until it holds; fails naming `what` (and the last error a check threw,
 * if any) after `timeoutMs`. A check that throws counts as "not yet": a poll over a keep-alive
 * socket the server is just closing must not fail the test.
 */
export async function waitFor(check: () => Promise<boolean> | boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < until) {
    try {
      if (await check()) return;
    } catch (error) {
      lastError = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out waiting for ${what}${lastError === undefined ? '' : ` (last error: ${(lastError as Error).message})`}`);
}
