/** One problem of a blueprint: where (JSON pointer and line), what, and what to do about it. */
export interface BlueprintProblem {
  /** JSON pointer into the document, e.g. /spec/tiers/mec/nodes/0/models/1; '' for the whole file. */
  path: string;
  line: number;
  message: string;
  hint: string;
}

/** A problem before its line is known (the YAML document gives it). */
export type UnplacedProblem = Omit<BlueprintProblem, 'line'> & { line?: number };

/** In file order, as an editor walks them; same line: by path. */
export function sortProblems(problems: BlueprintProblem[]): BlueprintProblem[] {
  return problems.sort((a, b) => a.line - b.line || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
