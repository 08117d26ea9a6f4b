// a module that opens a file beside itself, as k6 recommends: open(import.meta.resolve(...))
export const users = JSON.parse(open(import.meta.resolve('../data/users.json')));
export const here = import.meta.url;
