export const options = { vus: 1, iterashuns: 3 };

export default function () {}
