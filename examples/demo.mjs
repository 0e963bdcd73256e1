console.log('demo: coming with the core package');
