// Reading a Server-Sent Events answer as it arrives, for tests: the text so
// far, and a wait until it matches.
export function sseReader(res: Response) {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  const state = { text: "" };
  return {
    get text() {
      return state.text;
    },
    async readUntil(pattern: RegExp): Promise<string> {
      while (!pattern.test(state.text)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`the stream ended: ${state.text}`);
        state.text += decoder.decode(value, { stream: true });
      }
      return state.text;
    },
  };
}
