import kafka from 'k6/x/kafka';

export default function () {}
