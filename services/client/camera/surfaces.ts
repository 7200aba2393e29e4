/** The surfaces the camera simulator has textures for (models/inspect/textures/<surface>.png). */
export const SURFACES = ['brick', 'gravel', 'grass', 'metal', 'textile'] as const;
