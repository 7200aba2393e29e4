/** Types of build-dashboard.mjs for the test that compares its output with mec-overview.json. */
export declare function buildDashboard(): Record<string, unknown>;
