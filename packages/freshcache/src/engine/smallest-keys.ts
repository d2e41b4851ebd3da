/**
 * The `count` smallest keys (in string order) that `accept` lets through, sorted, and whether
 * more were let through. A bounded max-heap keeps the cost of one pass at O(n log count), so a
 * page of a sorted walk does not sort the whole store.
 */
export function smallestKeys(keys: Iterable<string>, count: number, accept: (key: string) => boolean): { keys: string[]; more: boolean } {
  const heap: string[] = [];
  let more = false;
  for (const key of keys) {
    if (!accept(key)) continue;
    if (heap.length < count) {
      heap.push(key);
      siftUp(heap, heap.length - 1);
    } else {
      more = true;
      if (key < heap[0]!) {
        heap[0] = key;
        siftDown(heap, 0);
      }
    }
  }
  return { keys: heap.sort(), more };
}

function siftUp(heap: string[], index: number): void {
  let i = index;
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (heap[parent]! >= heap[i]!) return;
    [heap[parent], heap[i]] = [heap[i]!, heap[parent]!];
    i = parent;
  }
}

function siftDown(heap: string[], index: number): void {
  let i = index;
  for (;;) {
    const left = 2 * i + 1;
    const right = left + 1;
    let largest = i;
    if (left < heap.length && heap[left]! > heap[largest]!) largest = left;
    if (right < heap.length && heap[right]! > heap[largest]!) largest = right;
    if (largest === i) return;
    [heap[largest], heap[i]] = [heap[i]!, heap[largest]!];
    i = largest;
  }
}
