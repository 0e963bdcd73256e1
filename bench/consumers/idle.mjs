// An ES module entry that does nothing and stays up: the RSS baseline of the .mjs consumers.
setInterval(() => {}, 2 ** 30);
