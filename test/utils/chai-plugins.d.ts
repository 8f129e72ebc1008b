// The chai plugin of test/utils/aegir-chai.ts ships no types; it is only handed to chai.use().
declare module 'chai-as-promised'
