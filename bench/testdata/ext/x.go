package ext

const X = 1
