export const options = { scenarios: { s: { executor: 'shared-iterations', iterations: 1, exec: 'nothere' } } };

export function other() {}
