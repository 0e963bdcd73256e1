// A CommonJS entry that does nothing and stays up: the RSS baseline of the .cjs consumers.
setInterval(() => {}, 2 ** 30);
