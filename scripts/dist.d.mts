export declare const root: string;
export declare function ensureDist(): number;
